"""GetAccountAuthorizationDetails: every user, group, role and managed policy of the account with
the policies that apply to it, in one Marker/MaxItems listing.

``Filter`` takes IAM's ``User``, ``Group``, ``Role``, ``LocalManagedPolicy`` and
``AWSManagedPolicy`` (none: all of them); AWS-managed policies appear only when attached to a
user, group or role of the account. One page runs across the four lists in that order (users,
groups, roles, policies), each by name regardless of case. Policy documents are URL-encoded, as
IAM returns them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, select

from ironkeep.model import ManagedPolicy
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.iam_instance_profiles import profile_shape
from ironkeep.services.iam_policies import policy_shape
from ironkeep.services.iam_policy_versions import version_shape
from ironkeep.services.iam_roles import encode_document
from ironkeep.services.registry import operation
from ironkeep.store import policies
from ironkeep.store import schema as t

ENTITY_TYPES = ("User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy")
_ORDER = {"user": 0, "group": 1, "role": 2, "policy": 3}


@operation("iam", "GetAccountAuthorizationDetails")
def get_account_authorization_details(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    wanted = set(params.get("Filter") or ENTITY_TYPES)
    candidates: list[tuple[str, str, Any]] = []  # (sort key, kind, row or policy)
    for kind, table, word in (
        ("user", t.users, "User"),
        ("group", t.groups, "Group"),
        ("role", t.roles, "Role"),
    ):
        if word in wanted:
            rows = ctx.tx.execute(select(table).where(table.c.account_id == ctx.account_id))
            candidates += [(_key(kind, row.name_lower), kind, row) for row in rows]
    if wanted & {"LocalManagedPolicy", "AWSManagedPolicy"}:
        for policy in _policies(ctx, "LocalManagedPolicy" in wanted, "AWSManagedPolicy" in wanted):
            candidates.append((_key("policy", f"{policy.name.lower()} {policy.arn}"), "policy", policy))
    candidates.sort(key=lambda item: item[0])
    after = common.decode_marker(params.get("Marker"))
    if after is not None:
        candidates = [item for item in candidates if item[0] > after]
    limit = common.max_items(params)
    page = candidates[:limit]
    out: dict[str, Any] = {
        "UserDetailList": _users(ctx, [row for _, kind, row in page if kind == "user"]),
        "GroupDetailList": _groups(ctx, [row for _, kind, row in page if kind == "group"]),
        "RoleDetailList": _roles(ctx, [row for _, kind, row in page if kind == "role"]),
        "Policies": [_policy(ctx, policy) for _, kind, policy in page if kind == "policy"],
        "IsTruncated": len(candidates) > limit,
    }
    if len(candidates) > limit:
        out["Marker"] = common.encode_marker(page[-1][0])
    return out


def _key(kind: str, name: str) -> str:
    return f"{_ORDER[kind]}:{name}"


def _policies(ctx: CallContext, local: bool, aws: bool) -> list[ManagedPolicy]:
    scope = "All" if local and aws else "Local" if local else "AWS"
    found, _ = policies.list(ctx.tx, ctx.account_id, scope, False, None, None, 1_000_000)
    return [p for p in found if not p.is_aws_managed or p.attachment_count]


# -- what users, groups and roles carry -------------------------------------------------------


def _inline(ctx: CallContext, kind: str, ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    c = t.inline_policies.c
    found: dict[str, list[dict[str, str]]] = defaultdict(list)
    query = (
        select(c.principal_id, c.name, c.document)
        .where(c.principal_kind == kind, c.principal_id.in_(list(ids)))
        .order_by(c.principal_id, c.name_lower)
    )
    for row in ctx.tx.execute(query):
        found[row.principal_id].append(
            {"PolicyName": row.name, "PolicyDocument": encode_document(row.document)}
        )
    return found


def _attached(ctx: CallContext, kind: str, ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    c = t.policy_attachments.c
    found: dict[str, list[dict[str, str]]] = defaultdict(list)
    query = select(c.principal_id, c.policy_arn).where(
        c.principal_kind == kind, c.principal_id.in_(list(ids))
    )
    for row in ctx.tx.execute(query):
        name = row.policy_arn.rsplit("/", 1)[-1]
        found[row.principal_id].append({"PolicyName": name, "PolicyArn": row.policy_arn})
    for listed in found.values():
        listed.sort(key=lambda p: (p["PolicyName"].lower(), p["PolicyArn"]))
    return found


def _tags(ctx: CallContext, kind: str, ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    c = t.tags.c
    found: dict[str, list[dict[str, str]]] = defaultdict(list)
    query = (
        select(c.resource_id, c.key, c.value)
        .where(c.resource_kind == kind, c.resource_id.in_(list(ids)))
        .order_by(c.resource_id, c.key_lower)
    )
    for row in ctx.tx.execute(query):
        found[row.resource_id].append({"Key": row.key, "Value": row.value})
    return found


def _base(row: Row[Any], word: str) -> dict[str, Any]:
    return {
        "Path": row.path,
        f"{word}Name": row.name,
        f"{word}Id": row.id,
        "Arn": row.arn,
        "CreateDate": common.utc(row.created_at),
    }


def _boundary(row: Row[Any], kind_word: str) -> dict[str, Any]:
    if not row.permissions_boundary_arn:
        return {}
    return {
        "PermissionsBoundary": {
            "PermissionsBoundaryType": kind_word,
            "PermissionsBoundaryArn": row.permissions_boundary_arn,
        }
    }


def _tagged(tags: list[dict[str, str]]) -> dict[str, Any]:
    return {"Tags": tags} if tags else {}


def _users(ctx: CallContext, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    ids = [row.id for row in rows]
    inline, attached, tags = _inline(ctx, "user", ids), _attached(ctx, "user", ids), _tags(ctx, "user", ids)
    memberships: dict[str, list[str]] = defaultdict(list)
    m, g = t.group_members.c, t.groups.c
    query = (
        select(m.user_id, g.name)
        .join(t.groups, g.id == m.group_id)
        .where(m.user_id.in_(ids))
        .order_by(m.user_id, g.name_lower)
    )
    for member in ctx.tx.execute(query):
        memberships[member.user_id].append(member.name)
    return [
        {
            **_base(row, "User"),
            "UserPolicyList": inline[row.id],
            "GroupList": memberships[row.id],
            "AttachedManagedPolicies": attached[row.id],
            **_boundary(row, "PermissionsBoundaryPolicy"),
            **_tagged(tags[row.id]),
        }
        for row in rows
    ]


def _groups(ctx: CallContext, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    ids = [row.id for row in rows]
    inline, attached = _inline(ctx, "group", ids), _attached(ctx, "group", ids)
    return [
        {
            **_base(row, "Group"),
            "GroupPolicyList": inline[row.id],
            "AttachedManagedPolicies": attached[row.id],
        }
        for row in rows
    ]


def _profiles_by_role(ctx: CallContext, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    p, link = t.instance_profiles.c, t.instance_profile_roles.c
    query = (
        select(t.instance_profiles, link.role_id)
        .join(t.instance_profile_roles, link.instance_profile_id == p.id)
        .where(link.role_id.in_(ids))
        .order_by(p.name_lower)
    )
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in ctx.tx.execute(query):
        found[row.role_id].append(profile_shape(ctx.tx, row, with_tags=True))
    return found


def _roles(ctx: CallContext, rows: list[Row[Any]]) -> list[dict[str, Any]]:
    ids = [row.id for row in rows]
    inline, attached, tags = _inline(ctx, "role", ids), _attached(ctx, "role", ids), _tags(ctx, "role", ids)
    profiles = _profiles_by_role(ctx, ids)
    out = []
    for row in rows:
        last_used: dict[str, Any] = {}
        if row.last_used_at is not None:
            last_used["LastUsedDate"] = common.utc(row.last_used_at)
            if row.last_used_region:
                last_used["Region"] = row.last_used_region
        out.append(
            {
                **_base(row, "Role"),
                "AssumeRolePolicyDocument": encode_document(row.assume_role_policy),
                "InstanceProfileList": profiles[row.id],
                "RolePolicyList": inline[row.id],
                "AttachedManagedPolicies": attached[row.id],
                **_boundary(row, "PermissionsBoundaryPolicy"),
                **_tagged(tags[row.id]),
                "RoleLastUsed": last_used,
            }
        )
    return out


def _policy(ctx: CallContext, policy: ManagedPolicy) -> dict[str, Any]:
    out = policy_shape(ctx, policy, with_description=True)
    out["PolicyVersionList"] = [
        version_shape(version, with_document=True) for version in policies.list_versions(ctx.tx, policy)
    ]
    return out
