"""Service-specific credentials: CreateServiceSpecificCredential, ListServiceSpecificCredentials,
ResetServiceSpecificCredential, UpdateServiceSpecificCredential, DeleteServiceSpecificCredential.

Two kinds, by service (the model's documentation names the four services):

- CodeCommit (Git credentials) and Amazon Keyspaces: a generated ``ServiceUserName``
  (``jane-at-123456789012``, ``jane+1-at-123456789012`` for a user's second) and ``ServicePassword``.
- Amazon Bedrock and CloudWatch Logs API keys: a ``ServiceCredentialAlias`` (formed the same way)
  and a ``ServiceCredentialSecret``; ``CredentialAgeDays`` gives them an ``ExpirationDate``, after
  which their status reads ``Expired``.

The password or secret is generated here, sealed at rest with the server's SecretBox (bound to
the credential id), and returned only by the call that made it (Create, or Reset for a new one).
A user has at most two credentials per service. Without ``UserName`` List, Reset, Update and Delete
act on the calling user. DeleteUser is refused while a user has credentials.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from ironkeep.auth.keys import UniqueIdPrefix, new_unique_id
from ironkeep.errors import AWSError, DeleteConflict, InvalidInput, LimitExceeded, NoSuchEntity
from ironkeep.model import User
from ironkeep.services import common, iam_users
from ironkeep.services.context import CallContext
from ironkeep.services.iam_access_keys import key_owner_resource
from ironkeep.services.iam_ssh_keys import settable_status, user_or_caller
from ironkeep.services.registry import operation
from ironkeep.store import schema as t
from ironkeep.store.prepared import any_row

CREDENTIALS_PER_USER_PER_SERVICE = 2  # IAM's quota (the model's CreateServiceSpecificCredential docs)
PASSWORD_SERVICES = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com"})
API_KEY_SERVICES = frozenset({"bedrock.amazonaws.com", "logs.amazonaws.com"})
SUPPORTED_SERVICES = PASSWORD_SERVICES | API_KEY_SERVICES
API_KEY_PREFIX = "ABSK"

_c = t.service_specific_credentials.c


class ServiceNotSupported(AWSError):
    code = "NotSupportedService"
    status = 404


def secret_aad(credential_id: str) -> bytes:
    return f"service-specific-credential:{credential_id}".encode()


def check_service(name: str) -> str:
    if name not in SUPPORTED_SERVICES:
        raise ServiceNotSupported(f"No such service {name} is supported for Service-Specific Credentials")
    return name


def new_secret(service_name: str, alias: str) -> str:
    """A password (44 characters of base64), or for an API key ``ABSK`` + base64 of alias:secret."""
    random_part = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    if service_name in PASSWORD_SERVICES:
        return random_part
    return API_KEY_PREFIX + base64.b64encode(f"{alias}:{random_part}".encode()).decode("ascii")


def service_user_name(user_name: str, account_id: str, taken: set[str]) -> str:
    """``jane-at-123456789012``; ``jane+1-at-…`` (then +2 …) when that one is in use."""
    counter = 0
    while True:
        suffix = f"+{counter}" if counter else ""
        candidate = f"{user_name}{suffix}-at-{account_id}"
        if candidate not in taken:
            return candidate
        counter += 1


# ---------------------------------------------------------------------------------------------
# expiration of API keys.  The service_specific_credentials table has no column for it (asked of
# the store's owner); until it has, the date is kept as a private attribute row in the tags table
# under a resource kind no tag operation reads or writes.


def _save_expiration(tx: Connection, credential_id: str, when: datetime) -> None:
    tx.execute(update(t.service_specific_credentials).where(_c.id == credential_id).values(expires_at=when))


def _expirations(tx: Connection, credential_ids: list[str]) -> dict[str, datetime]:
    if not credential_ids:
        return {}
    rows = tx.execute(
        select(_c.id, _c.expires_at).where(_c.id.in_(credential_ids), _c.expires_at.is_not(None))
    )
    return {row.id: row.expires_at for row in rows}


# ---------------------------------------------------------------------------------------------


def _credential(ctx: CallContext, user: User, credential_id: str) -> Row[Any]:
    row = ctx.tx.execute(
        select(t.service_specific_credentials).where(_c.id == credential_id, _c.user_id == user.id)
    ).first()
    if row is None:
        raise NoSuchEntity(f"The Service Specific Credential with id {credential_id} cannot be found.")
    return row


def _metadata(ctx: CallContext, user_name: str, row: Row[Any], expires: datetime | None) -> dict[str, Any]:
    status = row.status
    if expires is not None and ctx.now >= expires:
        status = "Expired"
    out: dict[str, Any] = {
        "UserName": user_name,
        "Status": status,
        "CreateDate": common.utc(row.created_at),
        "ServiceSpecificCredentialId": row.id,
        "ServiceName": row.service_name,
    }
    if row.service_name in API_KEY_SERVICES:
        out["ServiceCredentialAlias"] = row.service_user_name
    else:
        out["ServiceUserName"] = row.service_user_name
    if expires is not None:
        out["ExpirationDate"] = expires
    return out


def _with_secret(metadata: dict[str, Any], secret: str) -> dict[str, Any]:
    field = "ServiceCredentialSecret" if metadata["ServiceName"] in API_KEY_SERVICES else "ServicePassword"
    return {**metadata, field: secret}


@operation("iam", "CreateServiceSpecificCredential", resource=key_owner_resource)
def create_service_specific_credential(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_caller(ctx, params)
    service = check_service(params["ServiceName"])
    age_days = params.get("CredentialAgeDays")
    if age_days is not None and service not in API_KEY_SERVICES:
        raise InvalidInput("CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys.")
    # PostgreSQL: creations for one user queue on the user's row, so the quota holds
    ctx.tx.execute(select(t.users.c.id).where(t.users.c.id == user.id).with_for_update())
    names = set(
        ctx.tx.execute(
            select(_c.service_user_name).where(_c.user_id == user.id, _c.service_name == service)
        ).scalars()
    )
    if len(names) >= CREDENTIALS_PER_USER_PER_SERVICE:
        raise LimitExceeded(
            "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
            f"{CREDENTIALS_PER_USER_PER_SERVICE}"
        )
    credential_id = new_unique_id(UniqueIdPrefix.CONTEXT_SPECIFIC_CREDENTIAL)
    login = service_user_name(user.name, ctx.account_id, names)
    secret = new_secret(service, login)
    ctx.tx.execute(
        insert(t.service_specific_credentials).values(
            id=credential_id,
            user_id=user.id,
            service_name=service,
            service_user_name=login,
            password_sealed=ctx.services.box.seal(secret.encode(), aad=secret_aad(credential_id)),
            status="Active",
            created_at=ctx.now,
        )
    )
    expires = None
    if age_days is not None:
        expires = ctx.now.astimezone(UTC) + timedelta(days=int(age_days))
        _save_expiration(ctx.tx, credential_id, expires)
    row = _credential(ctx, user, credential_id)
    return {"ServiceSpecificCredential": _with_secret(_metadata(ctx, user.name, row, expires), secret)}


@operation("iam", "ListServiceSpecificCredentials", resource=key_owner_resource)
def list_service_specific_credentials(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    service = params.get("ServiceName")
    query = (
        select(t.service_specific_credentials, t.users.c.name.label("user_name"))
        .join(t.users, t.users.c.id == _c.user_id)
        .where(t.users.c.account_id == ctx.account_id)
    )
    if params.get("AllUsers"):
        if params.get("UserName"):
            raise InvalidInput("AllUsers cannot be specified together with UserName.")
    else:
        query = query.where(_c.user_id == user_or_caller(ctx, params).id)
    if service:
        query = query.where(_c.service_name == check_service(service))
    rows = ctx.tx.execute(query.order_by(_c.created_at, _c.id)).all()
    expirations = _expirations(ctx.tx, [row.id for row in rows])
    items = [_metadata(ctx, row.user_name, row, expirations.get(row.id)) for row in rows]
    return common.paginate(
        items,
        params,
        lambda item: f"{item['CreateDate'].isoformat()}|{item['ServiceSpecificCredentialId']}",
        "ServiceSpecificCredentials",
    )


@operation("iam", "ResetServiceSpecificCredential", resource=key_owner_resource)
def reset_service_specific_credential(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_caller(ctx, params)
    row = _credential(ctx, user, params["ServiceSpecificCredentialId"])
    secret = new_secret(row.service_name, row.service_user_name)
    ctx.tx.execute(
        update(t.service_specific_credentials)
        .where(_c.id == row.id)
        .values(password_sealed=ctx.services.box.seal(secret.encode(), aad=secret_aad(row.id)))
    )
    expires = _expirations(ctx.tx, [row.id]).get(row.id)
    return {"ServiceSpecificCredential": _with_secret(_metadata(ctx, user.name, row, expires), secret)}


@operation("iam", "UpdateServiceSpecificCredential", resource=key_owner_resource)
def update_service_specific_credential(ctx: CallContext, params: dict[str, Any]) -> None:
    status = settable_status(params["Status"])
    row = _credential(ctx, user_or_caller(ctx, params), params["ServiceSpecificCredentialId"])
    ctx.tx.execute(update(t.service_specific_credentials).where(_c.id == row.id).values(status=status))


@operation("iam", "DeleteServiceSpecificCredential", resource=key_owner_resource)
def delete_service_specific_credential(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _credential(ctx, user_or_caller(ctx, params), params["ServiceSpecificCredentialId"])
    ctx.tx.execute(delete(t.service_specific_credentials).where(_c.id == row.id))


def _user_has_no_service_credential(ctx: CallContext, row: Any) -> None:
    if any_row(ctx.tx, (_c.user_id, row.id)):
        raise DeleteConflict("Cannot delete entity, must delete service-specific credentials first.")


if _user_has_no_service_credential not in iam_users.EXTRA_DELETE_CHECKS:
    iam_users.EXTRA_DELETE_CHECKS.append(_user_has_no_service_credential)
