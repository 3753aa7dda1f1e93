"""Account settings: the account password policy (UpdateAccountPasswordPolicy,
GetAccountPasswordPolicy, DeleteAccountPasswordPolicy), GetAccountSummary, and the account alias
(CreateAccountAlias, DeleteAccountAlias, ListAccountAliases).

The password policy is kept as JSON in ``accounts.password_policy``; UpdateAccountPasswordPolicy
replaces the whole policy, a member left out taking IAM's default. An account has at most one
alias (a new one replaces it), unique across all accounts of the installation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, or_, select

from ironkeep.model import PasswordPolicy, limits
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.iam_account_settings import global_endpoint_token_version
from ironkeep.services.registry import operation
from ironkeep.store import accounts
from ironkeep.store import schema as t

# GetAccountSummary quotas that Ironkeep reports but does not enforce (IAM's defaults).
SERVER_CERTIFICATES_PER_ACCOUNT = 20
POLICY_VERSIONS_IN_USE_PER_ACCOUNT = 10000
# STS global endpoint tokens: version 1 (valid only in regions enabled by default), IAM's default.

_POLICY_MEMBERS = {
    "MinimumPasswordLength": "minimum_password_length",
    "RequireSymbols": "require_symbols",
    "RequireNumbers": "require_numbers",
    "RequireUppercaseCharacters": "require_uppercase_characters",
    "RequireLowercaseCharacters": "require_lowercase_characters",
    "AllowUsersToChangePassword": "allow_users_to_change_password",
    "MaxPasswordAge": "max_password_age",
    "PasswordReusePrevention": "password_reuse_prevention",
    "HardExpiry": "hard_expiry",
}


def _account_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    return "*"


# ---------------------------------------------------------------------------------------------
# password policy


@operation("iam", "UpdateAccountPasswordPolicy", resource=_account_resource)
def update_account_password_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    values = {field: params[member] for member, field in _POLICY_MEMBERS.items() if member in params}
    accounts.put_password_policy(ctx.tx, ctx.account_id, PasswordPolicy(**values))


@operation("iam", "GetAccountPasswordPolicy", resource=_account_resource)
def get_account_password_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"PasswordPolicy": accounts.password_policy(ctx.tx, ctx.account_id).to_aws()}


@operation("iam", "DeleteAccountPasswordPolicy", resource=_account_resource)
def delete_account_password_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    accounts.delete_password_policy(ctx.tx, ctx.account_id)


# ---------------------------------------------------------------------------------------------
# summary


def _credential_usage(ctx: CallContext) -> dict[str, int]:
    """The summary's entries about MFA devices, certificates and identity providers."""
    account = ctx.account_id
    mfa, certs = t.mfa_devices.c, t.signing_certificates.c
    in_use = or_(mfa.user_id.is_not(None), mfa.assigned_to_root.is_(True))

    def count(table: Any, *where: Any) -> Any:
        return select(func.count()).select_from(table).where(*where).scalar_subquery()

    query = select(
        count(t.mfa_devices, mfa.account_id == account).label("MFADevices"),
        count(t.mfa_devices, mfa.account_id == account, in_use).label("MFADevicesInUse"),
        exists(select(1).where(mfa.account_id == account, mfa.assigned_to_root.is_(True))).label(
            "AccountMFAEnabled"
        ),
        exists(select(1).where(certs.account_id == account, certs.user_id.is_(None))).label(
            "AccountSigningCertificatesPresent"
        ),
        (
            count(t.oidc_providers, t.oidc_providers.c.account_id == account)
            + count(t.saml_providers, t.saml_providers.c.account_id == account)
        ).label("Providers"),
        count(t.server_certificates, t.server_certificates.c.account_id == account).label(
            "ServerCertificates"
        ),
    )
    return {key: int(value) for key, value in ctx.tx.execute(query).one()._mapping.items()}


def _quotas() -> dict[str, int]:
    return {
        "UsersQuota": limits.USERS_PER_ACCOUNT,
        "GroupsQuota": limits.GROUPS_PER_ACCOUNT,
        "RolesQuota": limits.ROLES_PER_ACCOUNT,
        "PoliciesQuota": limits.CUSTOMER_MANAGED_POLICIES_PER_ACCOUNT,
        "InstanceProfilesQuota": limits.INSTANCE_PROFILES_PER_ACCOUNT,
        "ServerCertificatesQuota": SERVER_CERTIFICATES_PER_ACCOUNT,
        "PolicyVersionsInUseQuota": POLICY_VERSIONS_IN_USE_PER_ACCOUNT,
        "AccessKeysPerUserQuota": limits.ACCESS_KEYS_PER_USER,
        "GroupsPerUserQuota": limits.GROUPS_PER_USER,
        "SigningCertificatesPerUserQuota": limits.SIGNING_CERTIFICATES_PER_USER,
        "AttachedPoliciesPerUserQuota": limits.MANAGED_POLICIES_PER_USER,
        "AttachedPoliciesPerGroupQuota": limits.MANAGED_POLICIES_PER_GROUP,
        "AttachedPoliciesPerRoleQuota": limits.MANAGED_POLICIES_PER_ROLE,
        "VersionsPerPolicyQuota": limits.VERSIONS_PER_MANAGED_POLICY,
        "PolicySizeQuota": limits.MANAGED_POLICY_SIZE,
        "UserPolicySizeQuota": limits.INLINE_POLICY_SIZE_USER,
        "GroupPolicySizeQuota": limits.INLINE_POLICY_SIZE_GROUP,
        "RolePolicySizeQuota": limits.INLINE_POLICY_SIZE_ROLE,
        "AssumeRolePolicySizeQuota": limits.ROLE_TRUST_POLICY_SIZE,
    }


@operation("iam", "GetAccountSummary", resource=_account_resource)
def get_account_summary(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    summary = {
        **accounts.usage(ctx.tx, ctx.account_id),
        **_credential_usage(ctx),
        **_quotas(),
        "GlobalEndpointTokenVersion": global_endpoint_token_version(ctx.tx, ctx.account_id),
    }
    return {"SummaryMap": dict(sorted(summary.items()))}


# ---------------------------------------------------------------------------------------------
# alias


@operation("iam", "CreateAccountAlias", resource=_account_resource)
def create_account_alias(ctx: CallContext, params: dict[str, Any]) -> None:
    accounts.set_alias(ctx.tx, ctx.account_id, params["AccountAlias"])


@operation("iam", "DeleteAccountAlias", resource=_account_resource)
def delete_account_alias(ctx: CallContext, params: dict[str, Any]) -> None:
    accounts.delete_alias(ctx.tx, ctx.account_id, params["AccountAlias"])


@operation("iam", "ListAccountAliases", resource=_account_resource)
def list_account_aliases(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    account = accounts.require(ctx.tx, ctx.account_id)
    aliases = [account.alias] if account.alias else []
    return common.paginate(aliases, params, lambda alias: alias, "AccountAliases")
