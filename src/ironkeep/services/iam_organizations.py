"""IAM's Organizations operations: centralized root access (ListOrganizationsFeatures,
Enable/DisableOrganizationsRootCredentialsManagement, Enable/DisableOrganizationsRootSessions) and
the Organizations service last accessed report (GenerateOrganizationsAccessReport,
GetOrganizationsAccessReport).

Ironkeep has no AWS Organizations yet, so no account belongs to an organization and every call
answers as AWS answers a standalone account. The checks are nevertheless real and run in AWS's
order (the botocore model's errors for these operations):

1. the account belongs to an organization (``OrganizationNotFoundException``);
2. the organization has all features enabled (``OrganizationNotInAllFeaturesModeException``);
3. the caller's account is the management account (``CallerIsNotManagementAccountException`` to
   enable a feature) or, for the other calls, the management account or the delegated
   administrator for centralized root access
   (``AccountNotManagementOrDelegatedAdministratorException``);
4. trusted access for IAM is enabled in Organizations (``ServiceAccessNotEnabledException``).

The organization an account belongs to is read from the account's ``organization`` setting
(``account_settings``: ``{"Id", "ManagementAccountId", "AllFeatures", "TrustedAccess",
"DelegatedAdministrator"}``), which nothing writes until Ironkeep has Organizations; the enabled
features live in the management account's ``organizations-features`` setting.

GenerateOrganizationsAccessReport validates its input and records a job that has already failed:
its report would need the organization's accounts and SCPs. GetOrganizationsAccessReport returns
``JobStatus`` ``FAILED`` with ``ErrorDetails`` saying why, AWS's way of reporting a job that could
not run ("If the operation fails, it returns the reason that it failed").
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ironkeep.errors import AWSError, NoSuchEntity
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.iam_account_settings import get_setting, put_setting
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

REPORT_KIND = "organizations-access"
ORGANIZATION_SETTING = "organization"
FEATURES_SETTING = "organizations-features"
FEATURES = ("RootCredentialsManagement", "RootSessions")


class OrganizationNotFoundException(AWSError):
    code = "OrganizationNotFoundException"


class OrganizationNotInAllFeaturesModeException(AWSError):
    code = "OrganizationNotInAllFeaturesModeException"


class CallerIsNotManagementAccountException(AWSError):
    code = "CallerIsNotManagementAccountException"


class AccountNotManagementOrDelegatedAdministratorException(AWSError):
    code = "AccountNotManagementOrDelegatedAdministratorException"


class ServiceAccessNotEnabledException(AWSError):
    code = "ServiceAccessNotEnabledException"


# the model's descriptions of these errors, which are also the messages
NO_ORGANIZATION = "The request was rejected because no organization is associated with your account."
NOT_ALL_FEATURES = "The request was rejected because your organization does not have All features enabled."
NOT_MANAGEMENT = (
    "The request was rejected because the account making the request is not the management account "
    "for the organization."
)
NOT_ADMINISTRATOR = (
    "The request was rejected because the account making the request is not the management account "
    "or delegated administrator account for centralized root access."
)
NO_TRUSTED_ACCESS = "The request was rejected because trusted access is not enabled for IAM in Organizations."


@dataclass(frozen=True)
class Organization:
    id: str
    management_account_id: str
    all_features: bool = True
    trusted_access: bool = False
    delegated_administrator: str | None = None


def organization_of(tx: Connection, account_id: str) -> Organization | None:
    """The organization ``account_id`` belongs to, or None (always None until Ironkeep has
    Organizations)."""
    value = get_setting(tx, account_id, ORGANIZATION_SETTING)
    if not isinstance(value, dict) or not value.get("Id") or not value.get("ManagementAccountId"):
        return None
    return Organization(
        id=str(value["Id"]),
        management_account_id=str(value["ManagementAccountId"]),
        all_features=bool(value.get("AllFeatures", True)),
        trusted_access=bool(value.get("TrustedAccess", False)),
        delegated_administrator=value.get("DelegatedAdministrator"),
    )


def check_root_access_caller(org: Organization | None, account_id: str, *, enabling: bool) -> Organization:
    """AWS's checks for a centralized root access call by ``account_id`` (pure)."""
    if org is None:
        raise OrganizationNotFoundException(NO_ORGANIZATION)
    if not org.all_features:
        raise OrganizationNotInAllFeaturesModeException(NOT_ALL_FEATURES)
    if enabling and account_id != org.management_account_id:
        raise CallerIsNotManagementAccountException(NOT_MANAGEMENT)
    if account_id not in (org.management_account_id, org.delegated_administrator):
        raise AccountNotManagementOrDelegatedAdministratorException(NOT_ADMINISTRATOR)
    if not org.trusted_access:
        raise ServiceAccessNotEnabledException(NO_TRUSTED_ACCESS)
    return org


def _features_answer(ctx: CallContext, org: Organization) -> dict[str, Any]:
    enabled = get_setting(ctx.tx, org.management_account_id, FEATURES_SETTING) or []
    return {"OrganizationId": org.id, "EnabledFeatures": [f for f in FEATURES if f in enabled]}


def _set_feature(ctx: CallContext, feature: str, on: bool, *, enabling: bool) -> dict[str, Any]:
    org = check_root_access_caller(organization_of(ctx.tx, ctx.account_id), ctx.account_id, enabling=enabling)
    current = set(get_setting(ctx.tx, org.management_account_id, FEATURES_SETTING) or [])
    wanted = current | {feature} if on else current - {feature}
    put_setting(ctx.tx, org.management_account_id, FEATURES_SETTING, sorted(wanted), ctx.now)
    return _features_answer(ctx, org)


def _account_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    return "*"


@operation("iam", "ListOrganizationsFeatures", resource=_account_resource)
def list_organizations_features(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    org = check_root_access_caller(organization_of(ctx.tx, ctx.account_id), ctx.account_id, enabling=False)
    return _features_answer(ctx, org)


@operation("iam", "EnableOrganizationsRootCredentialsManagement", resource=_account_resource)
def enable_organizations_root_credentials_management(
    ctx: CallContext, params: dict[str, Any]
) -> dict[str, Any]:
    return _set_feature(ctx, "RootCredentialsManagement", True, enabling=True)


@operation("iam", "DisableOrganizationsRootCredentialsManagement", resource=_account_resource)
def disable_organizations_root_credentials_management(
    ctx: CallContext, params: dict[str, Any]
) -> dict[str, Any]:
    return _set_feature(ctx, "RootCredentialsManagement", False, enabling=False)


@operation("iam", "EnableOrganizationsRootSessions", resource=_account_resource)
def enable_organizations_root_sessions(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_feature(ctx, "RootSessions", True, enabling=True)


@operation("iam", "DisableOrganizationsRootSessions", resource=_account_resource)
def disable_organizations_root_sessions(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _set_feature(ctx, "RootSessions", False, enabling=False)


# ---------------------------------------------------------------------------------------------
# the Organizations access report


def report_failure(org: Organization | None, account_id: str, entity_path: str) -> dict[str, str]:
    """Why a report on ``entity_path`` cannot be made for ``account_id`` (pure): the organization
    the path names must be the caller's, seen from its management account, with SCPs, which
    Ironkeep has not."""
    organization_id = entity_path.split("/", 1)[0]
    if org is None:
        return {"Code": "OrganizationNotFoundException", "Message": NO_ORGANIZATION}
    if org.id != organization_id:
        return {
            "Code": "InvalidInput",
            "Message": f"The entity path {entity_path} is not in your organization.",
        }
    if account_id != org.management_account_id:
        return {"Code": "CallerIsNotManagementAccountException", "Message": NOT_MANAGEMENT}
    return {"Code": "ServiceFailure", "Message": "Service control policies are not available in Ironkeep."}


@operation("iam", "GenerateOrganizationsAccessReport", resource=_account_resource, read_only=False)
def generate_organizations_access_report(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    path = params["EntityPath"]
    failure = report_failure(organization_of(ctx.tx, ctx.account_id), ctx.account_id, path)
    job_id = str(uuid.uuid4())
    ctx.tx.execute(
        insert(t.report_jobs).values(
            id=job_id,
            account_id=ctx.account_id,
            kind=REPORT_KIND,
            subject=json.dumps(
                {"EntityPath": path, "OrganizationsPolicyId": params.get("OrganizationsPolicyId")}
            ),
            status="FAILED",
            created_at=ctx.now,
            completed_at=ctx.now,
            result=json.dumps({"ErrorDetails": failure}),
        )
    )
    return {"JobId": job_id}


@operation("iam", "GetOrganizationsAccessReport", resource=_account_resource)
def get_organizations_access_report(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    jobs = t.report_jobs.c
    row = ctx.tx.execute(
        select(t.report_jobs).where(
            jobs.id == params["JobId"], jobs.account_id == ctx.account_id, jobs.kind == REPORT_KIND
        )
    ).first()
    if row is None:
        raise NoSuchEntity(f"No job found with JobId {params['JobId']}.")
    created: datetime | None = common.utc(row.created_at)
    out: dict[str, Any] = {
        "JobStatus": row.status,
        "JobCreationDate": created,
        "JobCompletionDate": common.utc(row.completed_at),
        "IsTruncated": False,
    }
    out.update(json.loads(row.result))
    return out
