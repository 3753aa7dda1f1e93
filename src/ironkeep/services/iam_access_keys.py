"""Long-term access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey and
GetAccessKeyLastUsed.

Without ``UserName`` an operation acts on the caller's own keys: an IAM user's, or the root
user's when root calls. The secret is generated here, sealed at rest with the server's
:class:`~ironkeep.auth.secrets.SecretBox` (bound to the key id) and returned once, in
CreateAccessKey's response; nothing else ever shows it. Authentication reads the key's status on
every request, so a key made Inactive or deleted stops working on the very next call.
GetAccessKeyLastUsed reports what :meth:`Principals.note_key_use` recorded from real use.
"""

from __future__ import annotations

from typing import Any

from ironkeep.auth.keys import new_access_key_id, new_secret_access_key
from ironkeep.errors import InvalidInput, NoSuchEntity
from ironkeep.model import AccessKey, User
from ironkeep.model.arns import root_arn, user_arn
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.principals import secret_aad
from ironkeep.services.registry import operation
from ironkeep.store import access_keys, users

NOT_AVAILABLE = "N/A"  # GetAccessKeyLastUsed's ServiceName and Region for a key never used
SETTABLE_STATUSES = ("Active", "Inactive")


def _own_user_name(ctx: CallContext) -> str | None:
    """The user whose keys an operation without ``UserName`` acts on (None: the root user)."""
    caller = ctx.caller
    if caller.is_root:
        return None
    if caller.user_name is None:
        raise InvalidInput("Must specify userName when calling with non-User credentials")
    return caller.user_name


def key_owner_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The ARN of the user whose keys are managed (the caller's own without ``UserName``)."""
    name = params.get("UserName")
    if not name:
        if ctx.caller.is_root or ctx.caller.user_name is None:
            return ctx.caller.arn
        name = ctx.caller.user_name
    found = users.get(ctx.tx, ctx.account_id, name)
    return user_arn(ctx.account_id, found.path if found is not None else "/", name)


def _target(ctx: CallContext, params: dict[str, Any]) -> User | None:
    name = params.get("UserName") or _own_user_name(ctx)
    return None if name is None else users.require(ctx.tx, ctx.account_id, name)


def metadata_shape(key: AccessKey) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AccessKeyId": key.id,
        "Status": key.status,
        "CreateDate": common.utc(key.created),
    }
    if key.user_name is not None:  # the root user's keys carry no user name
        out["UserName"] = key.user_name
    return out


@operation("iam", "CreateAccessKey", resource=key_owner_resource)
def create_access_key(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = _target(ctx, params)
    key_id, secret = new_access_key_id(), new_secret_access_key()
    sealed = ctx.services.box.seal(secret.encode(), aad=secret_aad(key_id))
    key = access_keys.create(ctx.tx, ctx.account_id, user, key_id, sealed, ctx.now)
    return {"AccessKey": {**metadata_shape(key), "SecretAccessKey": secret}}


@operation("iam", "ListAccessKeys", resource=key_owner_resource)
def list_access_keys(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    keys = access_keys.for_user(ctx.tx, ctx.account_id, _target(ctx, params))
    # oldest first: the sort key (and so the marker) is the creation time, then the key id
    return common.paginate(
        [metadata_shape(key) for key in keys],
        params,
        lambda item: f"{item['CreateDate'].isoformat()}|{item['AccessKeyId']}",
        "AccessKeyMetadata",
    )


@operation("iam", "UpdateAccessKey", resource=key_owner_resource)
def update_access_key(ctx: CallContext, params: dict[str, Any]) -> None:
    status = params["Status"]
    if status not in SETTABLE_STATUSES:
        raise InvalidInput(f"Status {status} cannot be set: use Active or Inactive.")
    user = _target(ctx, params)
    access_keys.set_status(ctx.tx, ctx.account_id, user, params["AccessKeyId"], status)


@operation("iam", "DeleteAccessKey", resource=key_owner_resource)
def delete_access_key(ctx: CallContext, params: dict[str, Any]) -> None:
    user = _target(ctx, params)
    access_keys.delete(ctx.tx, ctx.account_id, user, params["AccessKeyId"])


def _key_of_account(ctx: CallContext, access_key_id: str) -> AccessKey:
    key = access_keys.lookup(ctx.tx, access_key_id)
    if key is None or key.account_id != ctx.account_id:
        raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
    return key


def last_used_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The ARN of the key's owner: the user's, or root's for a root key."""
    key = access_keys.lookup(ctx.tx, params["AccessKeyId"])
    if key is None or key.account_id != ctx.account_id:
        return user_arn(ctx.account_id, "/", "*")
    return key.user_arn or root_arn(ctx.account_id)


@operation("iam", "GetAccessKeyLastUsed", resource=last_used_resource)
def get_access_key_last_used(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    key = _key_of_account(ctx, params["AccessKeyId"])
    used: dict[str, Any] = {
        "ServiceName": key.last_used_service or NOT_AVAILABLE,
        "Region": key.last_used_region or NOT_AVAILABLE,
    }
    if key.last_used is not None:
        used["LastUsedDate"] = common.utc(key.last_used)
    out: dict[str, Any] = {"AccessKeyLastUsed": used}
    if key.user_name is not None:
        out["UserName"] = key.user_name
    return out
