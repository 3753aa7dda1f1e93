"""Inline policies embedded in users, groups and roles: Put/Get/Delete/List{User,Group,Role}Policy.

A second Put with the same name (in any case) replaces the document. The documents of one
principal together stay within IAM's quota (2,048 characters without white space for a user,
5,120 for a group, 10,240 for a role). Get returns the document URL-encoded, as IAM does.
"""

from __future__ import annotations

from typing import Any

from ironkeep.model import limits
from ironkeep.model.names import check_name
from ironkeep.policy import parse_policy
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.iam_attachments import NAME_MEMBER, authorized_principal, principal_resource
from ironkeep.services.iam_policies import listing
from ironkeep.services.iam_roles import encode_document
from ironkeep.services.registry import operation
from ironkeep.store import inline_policies


def _action(verb: str, kind: str) -> str:
    return f"iam:{verb}{kind.capitalize()}Polic{'ies' if verb == 'List' else 'y'}"


def _put(ctx: CallContext, kind: str, params: dict[str, Any]) -> None:
    owner = authorized_principal(ctx, kind, params[NAME_MEMBER[kind]], _action("Put", kind), modify=True)
    name = check_name(params["PolicyName"], "policyName", max_length=limits.POLICY_NAME_MAX)
    document = params["PolicyDocument"]
    parse_policy(document, kind="identity")  # MalformedPolicyDocument with the parser's words
    inline_policies.put(ctx.tx, owner, name, document)  # the owner's size quota


def _get(ctx: CallContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner = authorized_principal(ctx, kind, params[NAME_MEMBER[kind]], _action("Get", kind))
    policy = inline_policies.require(ctx.tx, owner, params["PolicyName"])
    return {
        NAME_MEMBER[kind]: owner.name,
        "PolicyName": policy.name,
        "PolicyDocument": encode_document(policy.document),
    }


def _delete(ctx: CallContext, kind: str, params: dict[str, Any]) -> None:
    owner = authorized_principal(ctx, kind, params[NAME_MEMBER[kind]], _action("Delete", kind), modify=True)
    inline_policies.delete(ctx.tx, owner, params["PolicyName"])


def _list(ctx: CallContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    owner = authorized_principal(ctx, kind, params[NAME_MEMBER[kind]], _action("List", kind))
    names, next_key = inline_policies.names(
        ctx.tx, owner, common.decode_marker(params.get("Marker")), common.max_items(params)
    )
    return listing("PolicyNames", names, next_key)


@operation("iam", "PutUserPolicy", resource=principal_resource("user"), authorize=False)
def put_user_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _put(ctx, "user", params)


@operation("iam", "GetUserPolicy", resource=principal_resource("user"), authorize=False)
def get_user_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _get(ctx, "user", params)


@operation("iam", "DeleteUserPolicy", resource=principal_resource("user"), authorize=False)
def delete_user_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _delete(ctx, "user", params)


@operation("iam", "ListUserPolicies", resource=principal_resource("user"), authorize=False)
def list_user_policies(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "user", params)


@operation("iam", "PutGroupPolicy", resource=principal_resource("group"), authorize=False)
def put_group_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _put(ctx, "group", params)


@operation("iam", "GetGroupPolicy", resource=principal_resource("group"), authorize=False)
def get_group_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _get(ctx, "group", params)


@operation("iam", "DeleteGroupPolicy", resource=principal_resource("group"), authorize=False)
def delete_group_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _delete(ctx, "group", params)


@operation("iam", "ListGroupPolicies", resource=principal_resource("group"), authorize=False)
def list_group_policies(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "group", params)


@operation("iam", "PutRolePolicy", resource=principal_resource("role"), authorize=False)
def put_role_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _put(ctx, "role", params)


@operation("iam", "GetRolePolicy", resource=principal_resource("role"), authorize=False)
def get_role_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _get(ctx, "role", params)


@operation("iam", "DeleteRolePolicy", resource=principal_resource("role"), authorize=False)
def delete_role_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _delete(ctx, "role", params)


@operation("iam", "ListRolePolicies", resource=principal_resource("role"), authorize=False)
def list_role_policies(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "role", params)
