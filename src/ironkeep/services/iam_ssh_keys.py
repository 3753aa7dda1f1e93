"""SSH public keys (CodeCommit's): UploadSSHPublicKey, GetSSHPublicKey, ListSSHPublicKeys,
UpdateSSHPublicKey, DeleteSSHPublicKey.

The key text is parsed by :mod:`ironkeep.auth.ssh_keys` (RSA of at least 2048 bits, OpenSSH or
PEM); one key is one fingerprint however it was written, and a user holds a fingerprint once
(DuplicateSSHPublicKey). GetSSHPublicKey re-encodes the stored key in the ``Encoding`` asked for.
ListSSHPublicKeys without ``UserName`` lists the calling user's keys. DeleteUser is refused while
a user has keys.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from ironkeep.auth.ssh_keys import new_ssh_public_key_id, parse_ssh_public_key
from ironkeep.errors import AWSError, DeleteConflict, InvalidInput, LimitExceeded, NoSuchEntity
from ironkeep.model import User, limits
from ironkeep.services import common, iam_users
from ironkeep.services.context import CallContext
from ironkeep.services.iam_access_keys import key_owner_resource
from ironkeep.services.registry import operation
from ironkeep.store import schema as t
from ironkeep.store import users
from ironkeep.store.prepared import any_row

SETTABLE_STATUSES = ("Active", "Inactive")

_k = t.ssh_public_keys.c


class DuplicateSSHPublicKey(AWSError):
    code = "DuplicateSSHPublicKey"
    status = 400


def user_or_caller(ctx: CallContext, params: dict[str, Any]) -> User:
    """The user ``UserName`` names, or without it the calling IAM user (InvalidInput for others).

    Shared by the credential families whose ``UserName`` may be left out (SSH keys, service-specific
    credentials)."""
    name = params.get("UserName")
    if not name:
        name = ctx.caller.user_name
        if name is None or ctx.caller.kind != "IAMUser":
            raise InvalidInput("Must specify userName when calling with non-User credentials")
    return users.require(ctx.tx, ctx.account_id, name)


def settable_status(status: str) -> str:
    """UpdateSSHPublicKey, UpdateSigningCertificate, UpdateServiceSpecificCredential: Expired is
    IAM's to set, not the caller's."""
    if status not in SETTABLE_STATUSES:
        raise InvalidInput(f"Status {status} cannot be set: use Active or Inactive.")
    return status


def _key(ctx: CallContext, user: User, key_id: str) -> Row[Any]:
    row = ctx.tx.execute(select(t.ssh_public_keys).where(_k.id == key_id, _k.user_id == user.id)).first()
    if row is None:
        raise NoSuchEntity(f"The Public Key with id {key_id} cannot be found.")
    return row


def _metadata(user: User, row: Row[Any]) -> dict[str, Any]:
    return {
        "UserName": user.name,
        "SSHPublicKeyId": row.id,
        "Status": row.status,
        "UploadDate": common.utc(row.uploaded_at),
    }


@operation("iam", "UploadSSHPublicKey", resource=key_owner_resource)
def upload_ssh_public_key(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_caller(ctx, params)
    body = params["SSHPublicKeyBody"]
    key = parse_ssh_public_key(body)
    # PostgreSQL: concurrent uploads for one user queue here, so the quota holds
    ctx.tx.execute(select(t.users.c.id).where(t.users.c.id == user.id).with_for_update())
    if ctx.tx.execute(select(_k.id).where(_k.user_id == user.id, _k.fingerprint == key.fingerprint)).first():
        raise DuplicateSSHPublicKey("The SSH public key is already associated with the specified IAM user.")
    count = ctx.tx.execute(select(func.count()).where(_k.user_id == user.id)).scalar_one()
    if count >= limits.SSH_PUBLIC_KEYS_PER_USER:
        raise LimitExceeded(
            f"Cannot exceed quota for SSHPublicKeysPerUser: {limits.SSH_PUBLIC_KEYS_PER_USER}"
        )
    key_id = new_ssh_public_key_id()
    ctx.tx.execute(
        insert(t.ssh_public_keys).values(
            id=key_id,
            user_id=user.id,
            body=body.strip(),
            fingerprint=key.fingerprint,
            status="Active",
            uploaded_at=ctx.now,
        )
    )
    row = _key(ctx, user, key_id)
    return {
        "SSHPublicKey": {**_metadata(user, row), "Fingerprint": row.fingerprint, "SSHPublicKeyBody": row.body}
    }


@operation("iam", "GetSSHPublicKey", resource=key_owner_resource)
def get_ssh_public_key(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_caller(ctx, params)
    row = _key(ctx, user, params["SSHPublicKeyId"])
    body = parse_ssh_public_key(row.body).encode(params["Encoding"])
    return {
        "SSHPublicKey": {**_metadata(user, row), "Fingerprint": row.fingerprint, "SSHPublicKeyBody": body}
    }


@operation("iam", "ListSSHPublicKeys", resource=key_owner_resource)
def list_ssh_public_keys(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = user_or_caller(ctx, params)
    rows = ctx.tx.execute(
        select(t.ssh_public_keys).where(_k.user_id == user.id).order_by(_k.uploaded_at, _k.id)
    ).all()
    return common.paginate(
        [_metadata(user, row) for row in rows],
        params,
        lambda item: f"{item['UploadDate'].isoformat()}|{item['SSHPublicKeyId']}",
        "SSHPublicKeys",
    )


@operation("iam", "UpdateSSHPublicKey", resource=key_owner_resource)
def update_ssh_public_key(ctx: CallContext, params: dict[str, Any]) -> None:
    status = settable_status(params["Status"])
    row = _key(ctx, user_or_caller(ctx, params), params["SSHPublicKeyId"])
    ctx.tx.execute(update(t.ssh_public_keys).where(_k.id == row.id).values(status=status))


@operation("iam", "DeleteSSHPublicKey", resource=key_owner_resource)
def delete_ssh_public_key(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _key(ctx, user_or_caller(ctx, params), params["SSHPublicKeyId"])
    ctx.tx.execute(delete(t.ssh_public_keys).where(_k.id == row.id))


def _user_has_no_ssh_public_key(ctx: CallContext, row: Any) -> None:
    if any_row(ctx.tx, (_k.user_id, row.id)):
        raise DeleteConflict("Cannot delete entity, must delete SSH public keys first.")


if _user_has_no_ssh_public_key not in iam_users.EXTRA_DELETE_CHECKS:
    iam_users.EXTRA_DELETE_CHECKS.append(_user_has_no_ssh_public_key)
