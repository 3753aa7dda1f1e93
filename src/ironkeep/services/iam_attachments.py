"""Managed policies attached to users, groups and roles: Attach/Detach/ListAttached{User,Group,Role}
Policies and ListEntitiesForPolicy.

Attachments are kept by policy ARN (:mod:`ironkeep.store.attachments`), so AWS-managed and the
account's own policies attach alike; a principal holds at most ten. The operations authorize
themselves so that IAM's condition keys reach the engine: ``iam:PolicyARN`` (the policy being
attached or detached), ``iam:PermissionsBoundary`` (the user's or role's boundary) and
``aws:ResourceTag/*`` (the user's or role's tags).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from ironkeep.errors import AWSError, NoSuchEntity
from ironkeep.model import ManagedPolicy, Principal, limits
from ironkeep.model.arns import iam_arn
from ironkeep.model.names import check_path_prefix
from ironkeep.services import common
from ironkeep.services.boundaries import check_policy_arn
from ironkeep.services.context import CallContext
from ironkeep.services.iam_policies import listing, policy_resource, require_policy
from ironkeep.services.iam_roles import SERVICE_LINKED_PATH, authorize, check_modifiable
from ironkeep.services.registry import operation
from ironkeep.store import attachments, groups, policies, roles, users
from ironkeep.store import schema as t


class PolicyNotAttachable(AWSError):
    code = "PolicyNotAttachable"
    status = 400


# per kind of principal: its store module, request member, table, tag kind and quota
_STORE: dict[str, Any] = {"user": users, "group": groups, "role": roles}
NAME_MEMBER = {"user": "UserName", "group": "GroupName", "role": "RoleName"}
_TABLE = {"user": t.users, "group": t.groups, "role": t.roles}
_TAGGED = {"user": "user", "role": "role"}  # groups carry no tags
_QUOTA = {
    "user": limits.MANAGED_POLICIES_PER_USER,
    "group": limits.MANAGED_POLICIES_PER_GROUP,
    "role": limits.MANAGED_POLICIES_PER_ROLE,
}
_WORD = {"user": "User", "group": "Group", "role": "Customer Role"}


def principal_resource(kind: str) -> Any:
    """The registry's ``resource`` for an operation on the user, group or role in the request."""

    def resource(ctx: CallContext, params: dict[str, Any]) -> str:
        name = params[NAME_MEMBER[kind]]
        found = _STORE[kind].get(ctx.tx, ctx.account_id, name)
        return str(found.arn) if found is not None else iam_arn(ctx.account_id, kind, "/", name)

    return resource


def authorized_principal(
    ctx: CallContext,
    kind: str,
    name: str,
    action: str,
    *,
    extra: Mapping[str, Any] | None = None,
    modify: bool = False,
) -> Principal:
    """The user, group or role ``name``, once the caller may perform ``action`` on it.

    ``extra`` adds condition keys; ``iam:PermissionsBoundary`` is the principal's own boundary
    unless ``extra`` says otherwise. ``modify``: a service-linked role cannot be changed.
    """
    found = _STORE[kind].get(ctx.tx, ctx.account_id, name)
    arn = found.arn if found is not None else iam_arn(ctx.account_id, kind, "/", name)
    keys: dict[str, Any] = {}
    boundary = getattr(found, "permissions_boundary_arn", None)
    if boundary:
        keys["iam:PermissionsBoundary"] = boundary
    keys.update(extra or {})
    tagged = found is not None and kind in _TAGGED
    authorize(
        ctx,
        action,
        arn,
        tag_kind=_TAGGED[kind] if tagged else None,
        resource_id=found.id if tagged and found is not None else None,
        extra=keys,
    )
    if found is None:
        raise _STORE[kind].KIND.missing(name)
    if modify and kind == "role":
        check_modifiable(found)
    return found


def _attachable(ctx: CallContext, arn: str, owner: Principal) -> ManagedPolicy:
    policy = policies.get(ctx.tx, ctx.account_id, arn)
    if policy is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    service_role_policy = policy.is_aws_managed and policy.path.startswith(SERVICE_LINKED_PATH)
    owner_is_service_role = owner.kind == "role" and owner.path.startswith(SERVICE_LINKED_PATH)
    if service_role_policy and not owner_is_service_role:
        raise PolicyNotAttachable(f"Cannot attach a Service Role Policy to a {_WORD[owner.kind]}.")
    return policy


def _attach(ctx: CallContext, kind: str, params: dict[str, Any]) -> None:
    arn = check_policy_arn(params["PolicyArn"])
    action = f"iam:Attach{kind.capitalize()}Policy"
    owner = authorized_principal(
        ctx, kind, params[NAME_MEMBER[kind]], action, extra={"iam:PolicyARN": arn}, modify=True
    )
    attachments.attach(ctx.tx, owner, _attachable(ctx, arn, owner), ctx.now, _QUOTA[kind])


def _detach(ctx: CallContext, kind: str, params: dict[str, Any]) -> None:
    arn = check_policy_arn(params["PolicyArn"])
    action = f"iam:Detach{kind.capitalize()}Policy"
    owner = authorized_principal(
        ctx, kind, params[NAME_MEMBER[kind]], action, extra={"iam:PolicyARN": arn}, modify=True
    )
    attachments.detach(ctx.tx, owner, arn)


def _list_attached(ctx: CallContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    action = f"iam:ListAttached{kind.capitalize()}Policies"
    owner = authorized_principal(ctx, kind, params[NAME_MEMBER[kind]], action)
    prefix = check_path_prefix(params.get("PathPrefix"))
    found, next_key = attachments.attached(
        ctx.tx, owner, prefix, common.decode_marker(params.get("Marker")), common.max_items(params)
    )
    shaped = [{"PolicyName": policy.name, "PolicyArn": policy.arn} for policy in found]
    return listing("AttachedPolicies", shaped, next_key)


@operation("iam", "AttachUserPolicy", resource=principal_resource("user"), authorize=False)
def attach_user_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _attach(ctx, "user", params)


@operation("iam", "DetachUserPolicy", resource=principal_resource("user"), authorize=False)
def detach_user_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _detach(ctx, "user", params)


@operation("iam", "ListAttachedUserPolicies", resource=principal_resource("user"), authorize=False)
def list_attached_user_policies(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, "user", params)


@operation("iam", "AttachGroupPolicy", resource=principal_resource("group"), authorize=False)
def attach_group_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _attach(ctx, "group", params)


@operation("iam", "DetachGroupPolicy", resource=principal_resource("group"), authorize=False)
def detach_group_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _detach(ctx, "group", params)


@operation("iam", "ListAttachedGroupPolicies", resource=principal_resource("group"), authorize=False)
def list_attached_group_policies(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, "group", params)


@operation("iam", "AttachRolePolicy", resource=principal_resource("role"), authorize=False)
def attach_role_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _attach(ctx, "role", params)


@operation("iam", "DetachRolePolicy", resource=principal_resource("role"), authorize=False)
def detach_role_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    _detach(ctx, "role", params)


@operation("iam", "ListAttachedRolePolicies", resource=principal_resource("role"), authorize=False)
def list_attached_role_policies(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, "role", params)


# ListEntitiesForPolicy: one page over groups, then users, then roles (each by name)
_ENTITY_ORDER = ("group", "user", "role")
_ENTITY_LIST = {"group": "PolicyGroups", "user": "PolicyUsers", "role": "PolicyRoles"}
_ENTITY_FILTER = {"User": "user", "Group": "group", "Role": "role"}


def _boundary_holders(ctx: CallContext, kind: str, arn: str, prefix: str) -> list[Any]:
    """Users or roles of the account whose permissions boundary is ``arn``."""
    table = _TABLE[kind]
    query = select(table.c.id, table.c.name, table.c.name_lower, table.c.path).where(
        table.c.account_id == ctx.account_id, table.c.permissions_boundary_arn == arn
    )
    return [row for row in ctx.tx.execute(query) if row.path.startswith(prefix)]


@operation("iam", "ListEntitiesForPolicy", resource=policy_resource, authorize=False)
def list_entities_for_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = require_policy(ctx, "iam:ListEntitiesForPolicy", params["PolicyArn"])
    prefix = check_path_prefix(params.get("PathPrefix"))
    only = _ENTITY_FILTER.get(params.get("EntityFilter") or "")  # the policy-type filters: everyone
    usage = params.get("PolicyUsageFilter")
    found: dict[str, dict[str, Any]] = {}  # sort key -> (kind, name, id)
    if usage != "PermissionsBoundary":
        attached_users, attached_groups, attached_roles = attachments.entities_for_policy(
            ctx.tx, ctx.account_id, policy.arn, None, prefix
        )
        for kind, entities in (
            ("group", attached_groups),
            ("user", attached_users),
            ("role", attached_roles),
        ):
            for entity in entities:
                found[_entity_key(kind, entity.name)] = {"kind": kind, "name": entity.name, "id": entity.id}
    if usage != "PermissionsPolicy":
        for kind in ("user", "role"):
            for row in _boundary_holders(ctx, kind, policy.arn, prefix):
                found[_entity_key(kind, row.name)] = {"kind": kind, "name": row.name, "id": row.id}
    keys = sorted(key for key, entity in found.items() if only is None or entity["kind"] == only)
    after = common.decode_marker(params.get("Marker"))
    if after is not None:
        keys = [key for key in keys if key > after]
    limit = common.max_items(params)
    out: dict[str, Any] = {name: [] for name in _ENTITY_LIST.values()}
    for key in keys[:limit]:
        held = found[key]
        word = held["kind"].capitalize()
        out[_ENTITY_LIST[held["kind"]]].append({f"{word}Name": held["name"], f"{word}Id": held["id"]})
    out["IsTruncated"] = len(keys) > limit
    if len(keys) > limit:
        out["Marker"] = common.encode_marker(keys[limit - 1])
    return out


def _entity_key(kind: str, name: str) -> str:
    return f"{_ENTITY_ORDER.index(kind)}:{name.lower()}"
