"""IAM temporary delegation requests: CreateDelegationRequest, GetDelegationRequest,
ListDelegationRequests, AssociateDelegationRequest, UpdateDelegationRequest,
AcceptDelegationRequest, RejectDelegationRequest and SendDelegationToken. STS
GetDelegatedAccessToken, which trades the token in for credentials, is in
:mod:`ironkeep.services.sts_extra` and uses :func:`trade_in`.

A partner account (the requestor) creates a request for permissions in a customer account (the
owner); the customer approves it and releases an exchange token to the partner, which trades it in
for temporary credentials of the approving identity limited to the requested permissions.

The state machine (AWS's "request lifecycle"; the model's ``stateType``):

    UNASSIGNED --Associate--> ASSIGNED --Accept--> ACCEPTED --SendDelegationToken--> FINALIZED
                              ASSIGNED --Update--> PENDING_APPROVAL --Accept--> ACCEPTED
    ASSIGNED, PENDING_APPROVAL, ACCEPTED --Reject--> REJECTED

Any other transition is ``InvalidInput``; two calls racing on one request: the loser gets
``ConcurrentModification``. Who may call what (AWS's "Managing permissions for delegation
requests"):

- Create: the requestor's principals (``iam:CreateDelegationRequest``); ``RequestorWorkflowId`` is
  unique among the requestor's requests (``EntityAlreadyExists``).
- Get: any account while the request has no owner account, then only the owner account and the
  requestor; the owner identity may always get it (its "default permission"), anyone else needs
  ``iam:GetDelegationRequest``. A request the caller may not see is ``NoSuchEntity``.
- Associate: only from UNASSIGNED, by an identity of the owner account when one was named; the
  caller's ARN becomes ``OwnerId`` and its account the owner account.
- List: the owner account's owned requests (unowned ones are never listed), optionally by OwnerId.
- Update: the owner identity by default, others with ``iam:UpdateDelegationRequest``.
- Accept, Reject, SendDelegationToken: identities of the owner account with the matching
  permission; SendDelegationToken only by the owner identity when ``OnlySendByOwner``.

Decisions where the public documentation is silent (partners go through a private onboarding):

- ``PolicyTemplateArn`` names a managed policy (AWS-managed, or customer-managed in the requestor's
  account) whose default version is the template; a string in it that is exactly ``{{Name}}`` is
  replaced by the parameter's value (a ``stringList`` parameter by its list), and ``{{Name}}``
  inside a longer string by a ``string`` parameter's value. The result, parsed as a session policy,
  is ``PermissionPolicy``. A template that does not resolve or does not parse is ``InvalidInput``.
- Requests not yet finalized expire :data:`REQUEST_TTL` (7 days, as AWS states for rejected ones)
  after their last change and then read as EXPIRED and accept no transition. The delegation period
  (``SessionDuration``) starts at SendDelegationToken; ``ExpirationTime`` of a finalized request is
  its end.
- The accepting identity must be an IAM user or a role session (root has no policies a session
  policy could narrow: AccessDenied). The delegated credentials act as that identity (a role session
  of the same role and session name, or a session of the user) with ``PermissionPolicy`` as their
  session policy and the MFA state the identity had when it accepted. (A user's delegated session is
  a session of kind IAMUser, which IAM refuses without MFA, as it does GetSessionToken sessions.)
- Ironkeep has no SNS: SendDelegationToken keeps the notification it would publish to
  ``NotificationChannel`` sealed in the request (:func:`notification` opens it); the exchange token
  itself is stored only as a SHA-256 digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from ironkeep.auth.secrets import SecretBox
from ironkeep.errors import (
    AccessDenied,
    AWSError,
    EntityAlreadyExists,
    InvalidInput,
    MalformedPolicyDocument,
    NoSuchEntity,
)
from ironkeep.model import aws_policies
from ironkeep.policy import parse_policy
from ironkeep.services import authz, common
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_managed_policy
from ironkeep.services.principals import managed_policy_documents
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

REQUEST_TTL = timedelta(days=7)
CONSOLE_URL = "https://console.aws.amazon.com/iam/home#/delegation/requests/{id}"
_OPEN = ("UNASSIGNED", "ASSIGNED", "PENDING_APPROVAL", "ACCEPTED", "REJECTED")


class ConcurrentModification(AWSError):
    code = "ConcurrentModification"
    status = 409


def _not_found(request_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The delegation request with id {request_id} cannot be found.")


def request_arn(ctx: CallContext, params: dict[str, Any]) -> str:
    """The ARN delegation-request calls are authorized against."""
    return f"arn:aws:iam::{ctx.account_id}:delegation-request/{params.get('DelegationRequestId', '*')}"


# -- the stored request -------------------------------------------------------------------------------


def _load(tx: Connection, request_id: str, *, lock: bool = False) -> Row[Any] | None:
    query = select(t.delegation_requests).where(t.delegation_requests.c.id == request_id)
    return tx.execute(query.with_for_update() if lock else query).first()


def expiration(row: Row[Any]) -> datetime:
    payload = json.loads(row.payload)
    if row.status == "FINALIZED":
        finalized = datetime.fromisoformat(payload["FinalizedAt"])
        return finalized + timedelta(seconds=payload["SessionDuration"])
    updated = common.utc(row.updated_at)
    assert updated is not None
    return updated + REQUEST_TTL


def state(row: Row[Any], now: datetime) -> str:
    if row.status in _OPEN and now >= expiration(row):
        return "EXPIRED"
    return str(row.status)


def _visible(ctx: CallContext, row: Row[Any]) -> bool:
    account = ctx.account_id
    return row.owner_account_id is None or account in (row.owner_account_id, row.account_id)


def _owner_id(row: Row[Any]) -> str | None:
    return json.loads(row.payload).get("OwnerId")


def _visible_row(ctx: CallContext, request_id: str, *, lock: bool = False) -> Row[Any]:
    row = _load(ctx.tx, request_id, lock=lock)
    if row is None or not _visible(ctx, row):
        raise _not_found(request_id)
    return row


def _owner_account_row(ctx: CallContext, request_id: str) -> Row[Any]:
    """The request for a call only its owner account may make (Accept, Reject, Send, Update); one
    not yet associated is left to the state machine (InvalidInput)."""
    row = _visible_row(ctx, request_id, lock=True)
    if row.owner_account_id not in (None, ctx.account_id):
        raise _not_found(request_id)
    return row


def _authorize_unless_owner(ctx: CallContext, row: Row[Any], action: str) -> None:
    """The owner identity's default permission; anyone else needs ``action`` on the request."""
    if _owner_id(row) == ctx.caller.arn:
        return
    authz.check(ctx, action, request_arn(ctx, {"DelegationRequestId": row.id}))


def _transition(
    ctx: CallContext, row: Row[Any], allowed: tuple[str, ...], target: str, changes: dict[str, Any]
) -> None:
    current = state(row, ctx.now)
    if current not in allowed:
        raise InvalidInput(
            f"The delegation request {row.id} is in the {current} state and cannot be moved to {target}."
        )
    payload = {**json.loads(row.payload), **changes}
    owner_account = payload.get("OwnerAccountId")
    done = ctx.tx.execute(
        update(t.delegation_requests)
        .where(t.delegation_requests.c.id == row.id, t.delegation_requests.c.status == row.status)
        .values(
            status=target, payload=json.dumps(payload), owner_account_id=owner_account, updated_at=ctx.now
        )
    )
    if done.rowcount != 1:
        raise ConcurrentModification(f"The delegation request {row.id} was changed by another request.")


# -- permissions ---------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{([ -z|~]+?)\}\}")


def _fill(node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if not isinstance(node, str):
        return node
    whole = _PLACEHOLDER.fullmatch(node)
    if whole is not None and whole.group(1) in values:
        return values[whole.group(1)]

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if not isinstance(value, str):
            raise InvalidInput(f"The policy parameter {match.group(1)} must be a single string here.")
        return value

    return _PLACEHOLDER.sub(one, node)


def permission_policy(tx: Connection, requestor_account: str, permissions: dict[str, Any]) -> str:
    """``PermissionPolicy``: the template of ``PolicyTemplateArn`` filled with ``Parameters``."""
    arn = permissions.get("PolicyTemplateArn")
    if not arn:
        raise InvalidInput("Permissions must name a PolicyTemplateArn.")
    if aws_policies.get(arn) is None and find_managed_policy(tx, requestor_account, arn) is None:
        raise InvalidInput(f"The policy template {arn} does not exist.")
    template = json.loads(managed_policy_documents(tx, [arn])[0])
    values: dict[str, Any] = {}
    for parameter in permissions.get("Parameters") or ():
        given = list(parameter.get("Values") or ())
        values[parameter["Name"]] = given if parameter.get("Type") == "stringList" else ",".join(given)
    document = json.dumps(_fill(template, values), separators=(",", ":"))
    if _PLACEHOLDER.search(document):
        raise InvalidInput("The policy template has parameters that the request does not give values for.")
    try:
        parse_policy(document, kind="session")
    except MalformedPolicyDocument as error:
        raise InvalidInput(f"The policy template does not give a valid policy: {error.message}") from None
    return document


# -- output shape ----------------------------------------------------------------------------------------

_SHAPE_FIELDS = (
    "OwnerAccountId", "Description", "RequestMessage", "Permissions", "PermissionPolicy", "OwnerId",
    "ApproverId", "RequestorName", "SessionDuration", "RedirectUrl", "Notes", "RejectionReason",
    "OnlySendByOwner",
)  # fmt: skip


def shape(row: Row[Any], now: datetime) -> dict[str, Any]:
    payload = json.loads(row.payload)
    out: dict[str, Any] = {"DelegationRequestId": row.id}
    out.update({key: payload[key] for key in _SHAPE_FIELDS if payload.get(key) is not None})
    out.update(
        State=state(row, now),
        ExpirationTime=expiration(row),
        RequestorId=row.account_id,
        CreateDate=common.utc(row.created_at),
        UpdatedTime=common.utc(row.updated_at),
    )
    return out


_CREATE_FIELDS = (
    "OwnerAccountId", "Description", "RequestMessage", "RequestorWorkflowId", "RedirectUrl",
    "NotificationChannel", "SessionDuration",
)  # fmt: skip

# -- operations ------------------------------------------------------------------------------------------


@operation("iam", "CreateDelegationRequest", resource=request_arn)
def create_delegation_request(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    tx, account = ctx.tx, ctx.account_id
    tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == account).with_for_update())
    workflow = params["RequestorWorkflowId"]
    mine = tx.execute(
        select(t.delegation_requests.c.payload).where(t.delegation_requests.c.account_id == account)
    )
    if any(json.loads(row.payload)["RequestorWorkflowId"] == workflow for row in mine):
        raise EntityAlreadyExists(f"A delegation request with RequestorWorkflowId {workflow} already exists.")
    permissions = params["Permissions"]
    policy = permission_policy(tx, account, permissions)
    alias = tx.execute(select(t.accounts.c.alias).where(t.accounts.c.id == account)).scalar()
    request_id = "dr-" + secrets.token_hex(16)
    payload = {key: params.get(key) for key in _CREATE_FIELDS}
    payload.update(
        Permissions=permissions,
        PermissionPolicy=policy,
        OnlySendByOwner=bool(params.get("OnlySendByOwner", False)),
        RequestorName=alias[:30] if alias else None,
    )
    tx.execute(
        insert(t.delegation_requests).values(
            id=request_id,
            account_id=account,
            owner_account_id=params.get("OwnerAccountId"),
            status="UNASSIGNED",
            payload=json.dumps(payload),
            created_at=ctx.now,
            updated_at=ctx.now,
        )
    )
    return {"DelegationRequestId": request_id, "ConsoleDeepLink": CONSOLE_URL.format(id=request_id)}


@operation("iam", "GetDelegationRequest", authorize=False)
def get_delegation_request(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _visible_row(ctx, params["DelegationRequestId"])
    _authorize_unless_owner(ctx, row, "iam:GetDelegationRequest")
    out: dict[str, Any] = {"DelegationRequest": shape(row, ctx.now)}
    if params.get("DelegationPermissionCheck"):
        out.update(_permission_check(ctx, json.loads(row.payload)["PermissionPolicy"]))
    return out


def _permission_check(ctx: CallContext, document: str) -> dict[str, str]:
    """Whether the caller's own policies allow every action and resource the policy names: ALLOWED
    or DENIED; UNSURE when the policy has conditions, wildcards or NotAction/NotResource."""
    policy = json.loads(document)
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    unsure = False
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions, resources = statement.get("Action"), statement.get("Resource")
        if statement.get("Condition") or actions is None or resources is None:
            unsure = True
            continue
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in [resources] if isinstance(resources, str) else resources:
                if "*" in action or "?" in action or "*" in resource or "?" in resource:
                    unsure = True
                    continue
                try:
                    authz.check(ctx, action, resource)
                except AccessDenied:
                    return {"PermissionCheckStatus": "COMPLETE", "PermissionCheckResult": "DENIED"}
    return {"PermissionCheckStatus": "COMPLETE", "PermissionCheckResult": "UNSURE" if unsure else "ALLOWED"}


@operation("iam", "ListDelegationRequests")
def list_delegation_requests(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = ctx.tx.execute(
        select(t.delegation_requests)
        .where(t.delegation_requests.c.owner_account_id == ctx.account_id)
        .order_by(t.delegation_requests.c.id)
    )
    wanted = params.get("OwnerId")
    owned = [row for row in rows if _owner_id(row) is not None and wanted in (None, _owner_id(row))]
    page = common.paginate(owned, params, lambda row: row.id, "DelegationRequests")
    page["DelegationRequests"] = [shape(row, ctx.now) for row in page["DelegationRequests"]]
    page["isTruncated"] = page.pop("IsTruncated")
    return page


@operation("iam", "AssociateDelegationRequest", resource=request_arn, read_only=False)
def associate_delegation_request(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _visible_row(ctx, params["DelegationRequestId"], lock=True)
    if row.owner_account_id not in (None, ctx.account_id):
        raise _not_found(row.id)
    changes = {"OwnerId": ctx.caller.arn, "OwnerAccountId": ctx.account_id}
    _transition(ctx, row, ("UNASSIGNED",), "ASSIGNED", changes)
    return None


@operation("iam", "UpdateDelegationRequest", authorize=False, read_only=False)
def update_delegation_request(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _owner_account_row(ctx, params["DelegationRequestId"])
    _authorize_unless_owner(ctx, row, "iam:UpdateDelegationRequest")
    changes = {"Notes": params["Notes"]} if params.get("Notes") is not None else {}
    _transition(ctx, row, ("ASSIGNED", "PENDING_APPROVAL"), "PENDING_APPROVAL", changes)
    return None


def _approver(ctx: CallContext) -> dict[str, Any]:
    """The identity the delegated credentials will act as (see the module's notes)."""
    caller = ctx.caller
    session = caller.session
    mfa = bool(session is not None and session.mfa_authenticated)
    if caller.kind == "IAMUser":
        user_id = session.issuer_id if session is not None else caller.principal_id
        return {
            "kind": "IAMUser",
            "arn": caller.arn,
            "principal_id": user_id,
            "issuer_id": user_id,
            "mfa": mfa,
        }
    if caller.kind == "AssumedRole" and session is not None and session.issuer_id is not None:
        return {
            "kind": "AssumedRole",
            "mfa": mfa,
            "arn": caller.arn,
            "principal_id": caller.principal_id,
            "issuer_id": session.issuer_id,
            "role_arn": session.role_arn,
            "session_name": session.session_name,
        }
    raise AccessDenied(f"{caller.arn} cannot accept delegation requests: only IAM users and roles can.")


@operation("iam", "AcceptDelegationRequest", resource=request_arn, read_only=False)
def accept_delegation_request(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _owner_account_row(ctx, params["DelegationRequestId"])
    changes = {"ApproverId": ctx.caller.arn, "Approver": _approver(ctx)}
    _transition(ctx, row, ("ASSIGNED", "PENDING_APPROVAL"), "ACCEPTED", changes)
    return None


@operation("iam", "RejectDelegationRequest", resource=request_arn, read_only=False)
def reject_delegation_request(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _owner_account_row(ctx, params["DelegationRequestId"])
    changes = {"RejectionReason": params["Notes"]} if params.get("Notes") is not None else {}
    _transition(ctx, row, ("ASSIGNED", "PENDING_APPROVAL", "ACCEPTED"), "REJECTED", changes)
    return None


def _notification_aad(request_id: str) -> bytes:
    return f"delegation-notification:{request_id}".encode()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@operation("iam", "SendDelegationToken", resource=request_arn, read_only=False)
def send_delegation_token(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _owner_account_row(ctx, params["DelegationRequestId"])
    payload = json.loads(row.payload)
    if payload.get("OnlySendByOwner") and payload.get("OwnerId") != ctx.caller.arn:
        raise AccessDenied(f"Only the owner of delegation request {row.id} can send its delegation token.")
    token = f"{row.id}.{secrets.token_urlsafe(32)}"
    message = {
        "DelegationRequestId": row.id,
        "RequestorWorkflowId": payload["RequestorWorkflowId"],
        "State": "FINALIZED",
        "ExchangeToken": token,
        "NotificationChannel": payload["NotificationChannel"],
    }
    sealed = ctx.services.box.seal(json.dumps(message).encode(), aad=_notification_aad(row.id))
    changes = {
        "FinalizedAt": ctx.now.isoformat(),
        "TokenDigest": _digest(token),
        "Notification": base64.b64encode(sealed).decode("ascii"),
    }
    _transition(ctx, row, ("ACCEPTED",), "FINALIZED", changes)
    return None


def notification(box: SecretBox, tx: Connection, request_id: str) -> dict[str, Any] | None:
    """The message SendDelegationToken would have published to the request's SNS topic (with the
    exchange token), or None before the token was sent."""
    row = _load(tx, request_id)
    if row is None:
        return None
    sealed = json.loads(row.payload).get("Notification")
    if sealed is None:
        return None
    opened = box.open(base64.b64decode(sealed), aad=_notification_aad(request_id))
    return dict(json.loads(opened))


def trade_in(ctx: CallContext, token: str) -> tuple[dict[str, Any], str, datetime]:
    """For GetDelegatedAccessToken: (the approver, PermissionPolicy, when the credentials end).

    The token must be one SendDelegationToken made and the caller of the requestor account; the
    delegation period must not be over (ExpiredTradeInTokenException).
    """
    request_id = token.split(".", 1)[0]
    row = _load(ctx.tx, request_id) if request_id else None
    payload = json.loads(row.payload) if row is not None else {}
    digest = payload.get("TokenDigest") or ""
    if row is None or row.account_id != ctx.account_id or not hmac.compare_digest(digest, _digest(token)):
        raise AccessDenied("The trade-in token is not valid.")
    ends = expiration(row)
    if ctx.now >= ends:
        raise ExpiredTradeInTokenException("The trade-in token has expired.")
    return payload["Approver"], payload["PermissionPolicy"], ends


class ExpiredTradeInTokenException(AWSError):
    code = "ExpiredTradeInTokenException"
    status = 400
