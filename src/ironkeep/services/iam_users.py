"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, and user tags."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from ironkeep.auth.keys import UniqueIdPrefix, new_unique_id
from ironkeep.errors import DeleteConflict, LimitExceeded
from ironkeep.model import limits
from ironkeep.model.arns import iam_arn
from ironkeep.model.names import check_name, check_path, check_path_prefix
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_user
from ironkeep.services.entities import get_user as get_user_row
from ironkeep.services.registry import operation
from ironkeep.store import rows
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared, any_row

TAG_KIND = "user"


def user_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The ARN a user operation is authorized against: the user's, with its stored path."""
    name = params.get("UserName") or params.get("NewUserName")
    if not name:
        return ctx.caller.arn
    row = find_user(ctx.tx, ctx.account_id, name)
    ctx.extra[_FOUND] = (name.lower(), row)  # same transaction: the handler need not read it again
    path = row.path if row is not None else params.get("Path") or "/"
    return iam_arn(ctx.account_id, "user", path, name)


_FOUND = "iam_users.found"


def _user_row(ctx: CallContext, name: str) -> Row[Any]:
    """The user ``name`` (NoSuchEntity if absent), as authorization found it in this call."""
    found = ctx.extra.get(_FOUND)
    if found is not None and found[0] == name.lower() and found[1] is not None:
        return found[1]
    return get_user_row(ctx.tx, ctx.account_id, name)


def user_shape(tx: Connection, row: Row[Any], *, with_tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": row.path,
        "UserName": row.name,
        "UserId": row.id,
        "Arn": row.arn,
        "CreateDate": common.utc(row.created_at),
    }
    if row.password_last_used is not None:
        out["PasswordLastUsed"] = common.utc(row.password_last_used)
    if row.permissions_boundary_arn:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": row.permissions_boundary_arn,
        }
    if with_tags:
        tags = common.get_tags(tx, TAG_KIND, row.id)
        if tags:
            out["Tags"] = tags
    return out


# built once, not on every call: the count of the account's users, and the insert of a new user
_USER_COUNT = Prepared(
    select(func.count()).select_from(t.users).where(t.users.c.account_id == bindparam("account"))
)
_INSERT_USER = insert(t.users)


@operation("iam", "CreateUser", resource=user_resource)
def create_user(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["UserName"], "userName", max_length=64)
    path = check_path(params.get("Path"))
    tags = common.check_tags(params.get("Tags", []))
    count = _USER_COUNT.scalar(ctx.tx, {"account": ctx.account_id}) or 0
    if count >= limits.USERS_PER_ACCOUNT:
        raise LimitExceeded(f"Cannot exceed quota for UsersPerAccount: {limits.USERS_PER_ACCOUNT}")
    if find_user(ctx.tx, ctx.account_id, name) is not None:
        raise _exists(name)
    boundary = params.get("PermissionsBoundary")
    if boundary:
        from ironkeep.services.boundaries import check_boundary_arn

        check_boundary_arn(ctx, boundary)
    user_id = new_unique_id(UniqueIdPrefix.USER)
    ctx.tx.execute(
        _INSERT_USER,
        {
            "id": user_id,
            "account_id": ctx.account_id,
            "name": name,
            "name_lower": name.lower(),
            "path": path,
            "arn": iam_arn(ctx.account_id, "user", path, name),
            "created_at": ctx.now,
            "permissions_boundary_arn": boundary,
        },
    )
    common.put_tags(ctx.tx, TAG_KIND, user_id, tags)
    return {"User": user_shape(ctx.tx, get_user_row(ctx.tx, ctx.account_id, name), with_tags=True)}


def _exists(name: str) -> Any:
    from ironkeep.errors import EntityAlreadyExists

    return EntityAlreadyExists(f"User with name {name} already exists.")


@operation("iam", "GetUser", resource=user_resource)
def get_user(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("UserName")
    if not name:
        caller = ctx.caller
        if caller.is_root:
            created = ctx.tx.execute(
                select(t.accounts.c.created_at).where(t.accounts.c.id == ctx.account_id)
            ).scalar()
            return {
                "User": {
                    "Path": "/",
                    "UserName": "",
                    "UserId": ctx.account_id,
                    "Arn": caller.arn,
                    "CreateDate": common.utc(created),
                }
            }
        if caller.user_name is None:
            raise common.InvalidInput("Must specify userName when calling with non-User credentials")
        name = caller.user_name
    return {"User": user_shape(ctx.tx, _user_row(ctx, name), with_tags=True)}


@operation("iam", "ListUsers", resource=lambda ctx, params: iam_arn(ctx.account_id, "user", "/", "*"))
def list_users(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    prefix = check_path_prefix(params.get("PathPrefix"))
    after = common.decode_marker(params.get("Marker"))
    limit = common.max_items(params)
    values = {"account": ctx.account_id, "after": after, "prefix": prefix, "prefix_length": len(prefix)}
    values.update(limit=limit + 1, offset=0)
    page = _list_users_page(prefix != "/", after is not None).all(ctx.tx, values)
    out: dict[str, Any] = {
        "Users": [user_shape(ctx.tx, row) for row in page[:limit]],
        "IsTruncated": len(page) > limit,
    }
    if len(page) > limit:
        out["Marker"] = common.encode_marker(page[limit - 1].name_lower)
    return out


@cache
def _list_users_page(by_path: bool, after_marker: bool) -> Prepared:
    """ListUsers' page of an account's users, by name, with or without a path prefix and a marker."""
    users = t.users.c
    query = select(t.users).where(users.account_id == bindparam("account"))
    if by_path:
        query = query.where(rows.starts_with(users.path, bindparam("prefix"), bindparam("prefix_length")))
    if after_marker:
        query = query.where(users.name_lower > bindparam("after"))
    page = query.order_by(users.name_lower).limit(bindparam("limit")).offset(bindparam("offset"))
    return Prepared(page, remember=False)  # (SQLite's dialect writes an OFFSET beside a bound LIMIT)


@operation("iam", "UpdateUser", resource=user_resource)
def update_user(ctx: CallContext, params: dict[str, Any]) -> None:
    row = get_user_row(ctx.tx, ctx.account_id, params["UserName"])
    new_name = check_name(params.get("NewUserName") or row.name, "newUserName", max_length=64)
    new_path = check_path(params.get("NewPath") or row.path, "newPath")
    if new_name.lower() != row.name_lower and find_user(ctx.tx, ctx.account_id, new_name) is not None:
        raise _exists(new_name)
    ctx.tx.execute(
        update(t.users)
        .where(t.users.c.id == row.id)
        .values(
            name=new_name,
            name_lower=new_name.lower(),
            path=new_path,
            arn=iam_arn(ctx.account_id, "user", new_path, new_name),
        )
    )


# What must be gone before a user can be deleted, with AWS's message for each.
_USER_DEPENDENTS = (
    (t.access_keys.c.user_id, "Cannot delete entity, must delete access keys first."),
    (t.login_profiles.c.user_id, "Cannot delete entity, must delete login profile first."),
    (t.group_members.c.user_id, "Cannot delete entity, must remove users from group first."),
)


@operation("iam", "DeleteUser", resource=user_resource)
def delete_user(ctx: CallContext, params: dict[str, Any]) -> None:
    row = get_user_row(ctx.tx, ctx.account_id, params["UserName"])
    for column, message in _USER_DEPENDENTS:
        if any_row(ctx.tx, (column, row.id)):
            raise DeleteConflict(message)
    ip, pa = t.inline_policies.c, t.policy_attachments.c
    if any_row(ctx.tx, (ip.principal_kind, "user"), (ip.principal_id, row.id)):
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if any_row(ctx.tx, (pa.principal_kind, "user"), (pa.principal_id, row.id)):
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    for check in EXTRA_DELETE_CHECKS:
        check(ctx, row)
    common.drop_tags(ctx.tx, TAG_KIND, row.id)
    ctx.tx.execute(delete(t.users).where(t.users.c.id == row.id))


# Other modules (MFA devices, SSH keys, certificates ...) add their DeleteConflict checks here.
EXTRA_DELETE_CHECKS: list[Any] = []


@operation("iam", "TagUser", resource=user_resource)
def tag_user(ctx: CallContext, params: dict[str, Any]) -> None:
    row = get_user_row(ctx.tx, ctx.account_id, params["UserName"])
    common.put_tags(ctx.tx, TAG_KIND, row.id, params["Tags"])


@operation("iam", "UntagUser", resource=user_resource)
def untag_user(ctx: CallContext, params: dict[str, Any]) -> None:
    row = get_user_row(ctx.tx, ctx.account_id, params["UserName"])
    common.remove_tags(ctx.tx, TAG_KIND, row.id, params["TagKeys"])


@operation("iam", "ListUserTags", resource=user_resource)
def list_user_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = get_user_row(ctx.tx, ctx.account_id, params["UserName"])
    return common.paginate(
        common.get_tags(ctx.tx, TAG_KIND, row.id), params, lambda tag: tag["Key"].lower(), "Tags"
    )
