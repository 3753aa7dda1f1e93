"""IAM groups: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup, AddUserToGroup,
RemoveUserFromGroup and ListGroupsForUser.

Groups are stored by :mod:`ironkeep.store.groups` (names unique regardless of case, members,
IAM's DeleteConflict messages); this module adds the quotas, the wire shapes and authorization.
Group operations are authorized against the group's ARN (with its stored path); ListGroupsForUser
against the user's. UpdateGroup needs permission on the old and on the new name, as in IAM.
"""

from __future__ import annotations

from typing import Any

from ironkeep.auth.keys import UniqueIdPrefix, new_unique_id
from ironkeep.errors import LimitExceeded
from ironkeep.model import Group, User, limits
from ironkeep.model.arns import group_arn, user_arn
from ironkeep.model.names import check_name, check_path, check_path_prefix
from ironkeep.services import authz, common
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import groups, users


def group_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The group's ARN, with its stored path (a new group: the requested path)."""
    name = params["GroupName"]
    found = groups.get(ctx.tx, ctx.account_id, name)
    path = found.path if found is not None else params.get("Path") or "/"
    return group_arn(ctx.account_id, path, name)


def user_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    name = params["UserName"]
    found = users.get(ctx.tx, ctx.account_id, name)
    return user_arn(ctx.account_id, found.path if found is not None else "/", name)


def group_shape(group: Group) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.id,
        "Arn": group.arn,
        "CreateDate": common.utc(group.created),
    }


def _member_shape(user: User) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.id,
        "Arn": user.arn,
        "CreateDate": common.utc(user.created),
    }
    if user.password_last_used is not None:
        out["PasswordLastUsed"] = common.utc(user.password_last_used)
    if user.permissions_boundary_arn:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": user.permissions_boundary_arn,
        }
    return out


def _page(params: dict[str, Any]) -> tuple[str | None, int]:
    """The request's Marker (decoded to the store's sort key) and MaxItems."""
    return common.decode_marker(params.get("Marker")), common.max_items(params)


def _listing(list_name: str, items: list[dict[str, Any]], next_key: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {list_name: items, "IsTruncated": next_key is not None}
    if next_key is not None:
        out["Marker"] = common.encode_marker(next_key)
    return out


@operation("iam", "CreateGroup", resource=group_resource)
def create_group(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["GroupName"], "groupName", max_length=limits.GROUP_NAME_MAX)
    path = check_path(params.get("Path"))
    if groups.count(ctx.tx, ctx.account_id) >= limits.GROUPS_PER_ACCOUNT:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerAccount: {limits.GROUPS_PER_ACCOUNT}")
    group = groups.create(ctx.tx, ctx.account_id, name, path, new_unique_id(UniqueIdPrefix.GROUP), ctx.now)
    return {"Group": group_shape(group)}


@operation("iam", "GetGroup", resource=group_resource)
def get_group(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    group = groups.require(ctx.tx, ctx.account_id, params["GroupName"])
    marker, limit = _page(params)
    members, next_key = groups.members(ctx.tx, group, marker, limit)
    out = _listing("Users", [_member_shape(user) for user in members], next_key)
    out["Group"] = group_shape(group)
    return out


@operation("iam", "ListGroups", resource=lambda ctx, params: group_arn(ctx.account_id, "/", "*"))
def list_groups(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    prefix = check_path_prefix(params.get("PathPrefix"))
    marker, limit = _page(params)
    found, next_key = groups.list(ctx.tx, ctx.account_id, prefix, marker, limit)
    return _listing("Groups", [group_shape(group) for group in found], next_key)


@operation("iam", "UpdateGroup", resource=group_resource)
def update_group(ctx: CallContext, params: dict[str, Any]) -> None:
    group = groups.require(ctx.tx, ctx.account_id, params["GroupName"])
    new_name = params.get("NewGroupName")
    new_path = params.get("NewPath")
    if new_name is not None:
        check_name(new_name, "newGroupName", max_length=limits.GROUP_NAME_MAX)
    if new_path is not None:
        check_path(new_path, "newPath")
    target = group_arn(ctx.account_id, new_path or group.path, new_name or group.name)
    if target != group.arn:
        # IAM: the caller needs permission on the group under its old and its new name
        authz.check(ctx, "iam:UpdateGroup", target)
    groups.update(ctx.tx, group, new_name, new_path)


@operation("iam", "DeleteGroup", resource=group_resource)
def delete_group(ctx: CallContext, params: dict[str, Any]) -> None:
    groups.delete(ctx.tx, groups.require(ctx.tx, ctx.account_id, params["GroupName"]))


@operation("iam", "AddUserToGroup", resource=group_resource)
def add_user_to_group(ctx: CallContext, params: dict[str, Any]) -> None:
    group = groups.require(ctx.tx, ctx.account_id, params["GroupName"])
    user = users.require(ctx.tx, ctx.account_id, params["UserName"])
    groups.add_user(ctx.tx, group, user, ctx.now)


@operation("iam", "RemoveUserFromGroup", resource=group_resource)
def remove_user_from_group(ctx: CallContext, params: dict[str, Any]) -> None:
    group = groups.require(ctx.tx, ctx.account_id, params["GroupName"])
    user = users.require(ctx.tx, ctx.account_id, params["UserName"])
    groups.remove_user(ctx.tx, group, user)


@operation("iam", "ListGroupsForUser", resource=user_resource)
def list_groups_for_user(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = users.require(ctx.tx, ctx.account_id, params["UserName"])
    marker, limit = _page(params)
    found, next_key = groups.for_user(ctx.tx, user, marker, limit)
    return _listing("Groups", [group_shape(group) for group in found], next_key)
