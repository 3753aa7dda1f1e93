"""Permissions boundaries of users and roles: Put/Delete{User,Role}PermissionsBoundary.

A boundary is a managed policy (the account's own or AWS-managed) that caps what the principal's
identity policies can grant. ``iam:PermissionsBoundary`` in the request's context is the boundary
being set (Put) or the one being removed (Delete), so that a policy can say which boundaries
a delegated administrator may hand out.
"""

from __future__ import annotations

from typing import Any

from ironkeep.services.boundaries import check_boundary_arn
from ironkeep.services.context import CallContext
from ironkeep.services.iam_attachments import NAME_MEMBER, authorized_principal, principal_resource
from ironkeep.services.registry import operation
from ironkeep.store import roles, users

_STORE: dict[str, Any] = {"user": users, "role": roles}


def _put(ctx: CallContext, kind: str, params: dict[str, Any]) -> None:
    arn = params["PermissionsBoundary"]
    action = f"iam:Put{kind.capitalize()}PermissionsBoundary"
    owner = authorized_principal(
        ctx, kind, params[NAME_MEMBER[kind]], action, extra={"iam:PermissionsBoundary": arn}, modify=True
    )
    check_boundary_arn(ctx, arn)
    _STORE[kind].set_permissions_boundary(ctx.tx, owner, arn)


def _delete(ctx: CallContext, kind: str, params: dict[str, Any]) -> None:
    action = f"iam:Delete{kind.capitalize()}PermissionsBoundary"
    owner = authorized_principal(ctx, kind, params[NAME_MEMBER[kind]], action, modify=True)
    _STORE[kind].set_permissions_boundary(ctx.tx, owner, None)


@operation("iam", "PutUserPermissionsBoundary", resource=principal_resource("user"), authorize=False)
def put_user_permissions_boundary(ctx: CallContext, params: dict[str, Any]) -> None:
    _put(ctx, "user", params)


@operation("iam", "DeleteUserPermissionsBoundary", resource=principal_resource("user"), authorize=False)
def delete_user_permissions_boundary(ctx: CallContext, params: dict[str, Any]) -> None:
    _delete(ctx, "user", params)


@operation("iam", "PutRolePermissionsBoundary", resource=principal_resource("role"), authorize=False)
def put_role_permissions_boundary(ctx: CallContext, params: dict[str, Any]) -> None:
    _put(ctx, "role", params)


@operation("iam", "DeleteRolePermissionsBoundary", resource=principal_resource("role"), authorize=False)
def delete_role_permissions_boundary(ctx: CallContext, params: dict[str, Any]) -> None:
    _delete(ctx, "role", params)
