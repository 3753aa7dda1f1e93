"""IAM managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, and policy tags.

Customer-managed policies are stored by :mod:`ironkeep.store.policies` (names unique regardless of
case, versions, IAM's DeleteConflict messages); AWS-managed ones come from the read-only
catalogue (:mod:`ironkeep.model.aws_policies`) and are listed with them, merged by name.

Policy operations authorize themselves (``authorize=False``) so that ``aws:ResourceTag/*`` (the
policy's tags), ``aws:RequestTag/*`` and ``aws:TagKeys`` reach the engine, as IAM documents for
the ``policy`` resource type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from ironkeep.auth.keys import UniqueIdPrefix, new_unique_id
from ironkeep.errors import DeleteConflict, LimitExceeded, NoSuchEntity
from ironkeep.model import ManagedPolicy, limits
from ironkeep.model.arns import policy_arn
from ironkeep.model.names import check_name, check_path, check_path_prefix
from ironkeep.services import common
from ironkeep.services.boundaries import check_policy_arn
from ironkeep.services.context import CallContext
from ironkeep.services.iam_roles import authorize
from ironkeep.services.registry import operation
from ironkeep.store import policies
from ironkeep.store import schema as t

TAG_KIND = "policy"


def policy_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The ARN a policy operation concerns: the request's PolicyArn, or the one CreatePolicy makes."""
    arn = params.get("PolicyArn")
    if arn:
        return str(arn)
    return policy_arn(ctx.account_id, params.get("Path") or "/", params["PolicyName"])


def authorized_policy(
    ctx: CallContext,
    action: str,
    arn: str,
    *,
    request_tags: Iterable[Mapping[str, str]] | None = None,
    tag_keys: Iterable[str] | None = None,
) -> ManagedPolicy | None:
    """The policy ``arn`` as the account sees it (or None), once the caller may perform ``action``."""
    check_policy_arn(arn)
    found = policies.get(ctx.tx, ctx.account_id, arn)
    local = found is not None and not found.is_aws_managed
    authorize(
        ctx,
        action,
        arn,
        tag_kind=TAG_KIND if local else None,
        resource_id=found.id if local and found is not None else None,
        request_tags=request_tags,
        tag_keys=tag_keys,
    )
    return found


def require_policy(ctx: CallContext, action: str, arn: str, **keys: Any) -> ManagedPolicy:
    """An AWS-managed or the account's own policy: NoSuchEntity otherwise."""
    found = authorized_policy(ctx, action, arn, **keys)
    if found is None:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return found


def require_local_policy(ctx: CallContext, action: str, arn: str, **keys: Any) -> ManagedPolicy:
    """A customer-managed policy of the account: AWS-managed ones cannot be changed."""
    found = require_policy(ctx, action, arn, **keys)
    if found.is_aws_managed:
        raise NoSuchEntity(f"Policy {arn} was not found.")
    return found


def policy_shape(
    ctx: CallContext, policy: ManagedPolicy, *, with_description: bool = False, with_tags: bool = False
) -> dict[str, Any]:
    """The Policy structure. ListPolicies leaves out Description and Tags, as AWS documents."""
    out: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": policy.permissions_boundary_usage_count,
        "IsAttachable": policy.is_attachable,
        "CreateDate": common.utc(policy.created),
        "UpdateDate": common.utc(policy.updated),
    }
    if with_description and policy.description:
        out["Description"] = policy.description
    if with_tags and not policy.is_aws_managed:
        tags = common.get_tags(ctx.tx, TAG_KIND, policy.id)
        if tags:
            out["Tags"] = tags
    return out


def listing(list_name: str, items: list[Any], next_key: str | None) -> dict[str, Any]:
    """A Marker/MaxItems page in AWS's output members (the store's sort key, made opaque)."""
    out: dict[str, Any] = {list_name: items, "IsTruncated": next_key is not None}
    if next_key is not None:
        out["Marker"] = common.encode_marker(next_key)
    return out


@operation("iam", "CreatePolicy", resource=policy_resource, authorize=False)
def create_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["PolicyName"], "policyName", max_length=limits.POLICY_NAME_MAX)
    path = check_path(params.get("Path"))
    tags = common.check_tags(params.get("Tags", []))
    arn = policy_arn(ctx.account_id, path, name)
    authorize(ctx, "iam:CreatePolicy", arn, request_tags=tags if tags else None)
    document = common.check_policy_document(
        params["PolicyDocument"], kind="identity", max_size=limits.MANAGED_POLICY_SIZE
    )
    # the account's row is held (PostgreSQL) so that concurrent creates cannot both pass the count
    ctx.tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == ctx.account_id).with_for_update())
    if policies.count(ctx.tx, ctx.account_id) >= limits.CUSTOMER_MANAGED_POLICIES_PER_ACCOUNT:
        raise LimitExceeded(
            f"Cannot exceed quota for PoliciesPerAccount: {limits.CUSTOMER_MANAGED_POLICIES_PER_ACCOUNT}"
        )
    policy = policies.create(
        ctx.tx,
        ctx.account_id,
        name,
        path,
        new_unique_id(UniqueIdPrefix.MANAGED_POLICY),
        document,
        ctx.now,
        description=params.get("Description"),
    )
    common.put_tags(ctx.tx, TAG_KIND, policy.id, tags)
    return {"Policy": policy_shape(ctx, policy, with_tags=True)}


@operation("iam", "GetPolicy", resource=policy_resource, authorize=False)
def get_policy(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = require_policy(ctx, "iam:GetPolicy", params["PolicyArn"])
    return {"Policy": policy_shape(ctx, policy, with_description=True, with_tags=True)}


_USAGE = {"PermissionsPolicy": "attachment_count", "PermissionsBoundary": "permissions_boundary_usage_count"}


@operation("iam", "ListPolicies")
def list_policies(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    prefix = check_path_prefix(params.get("PathPrefix"))
    only_attached = bool(params.get("OnlyAttached"))
    usage = params.get("PolicyUsageFilter")
    marker = common.decode_marker(params.get("Marker"))
    limit = common.max_items(params)
    if not only_attached:
        found, next_key = policies.list(
            ctx.tx, ctx.account_id, params.get("Scope") or "All", False, prefix, marker, limit
        )
    else:
        # attached to a user, group or role (PermissionsPolicy, the default) or used as a boundary
        everything, _ = policies.list(
            ctx.tx, ctx.account_id, params.get("Scope") or "All", False, prefix, None, 1_000_000
        )
        count = _USAGE.get(usage or "PermissionsPolicy", "attachment_count")
        used = [p for p in everything if getattr(p, count)]
        found, next_key = _page(used, marker, limit)
    return listing("Policies", [policy_shape(ctx, policy) for policy in found], next_key)


def _page(
    items: list[ManagedPolicy], marker: str | None, limit: int
) -> tuple[list[ManagedPolicy], str | None]:
    """ListPolicies' page of an already filtered list, with the store's marker (name, then ARN)."""
    keyed = sorted(((f"{p.name.lower()} {p.arn}", p) for p in items), key=lambda kv: kv[0])
    if marker is not None:
        keyed = [kv for kv in keyed if kv[0] > marker]
    if len(keyed) <= limit:
        return [p for _, p in keyed], None
    return [p for _, p in keyed[:limit]], keyed[limit - 1][0]


@operation("iam", "DeletePolicy", resource=policy_resource, authorize=False)
def delete_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    policy = require_local_policy(ctx, "iam:DeletePolicy", params["PolicyArn"])
    if policy.permissions_boundary_usage_count:
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    policies.delete(ctx.tx, policy)


@operation("iam", "TagPolicy", resource=policy_resource, authorize=False)
def tag_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    tags = common.check_tags(params["Tags"])
    policy = require_local_policy(ctx, "iam:TagPolicy", params["PolicyArn"], request_tags=tags)
    common.put_tags(ctx.tx, TAG_KIND, policy.id, tags)


@operation("iam", "UntagPolicy", resource=policy_resource, authorize=False)
def untag_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    policy = require_local_policy(ctx, "iam:UntagPolicy", params["PolicyArn"], tag_keys=params["TagKeys"])
    common.remove_tags(ctx.tx, TAG_KIND, policy.id, params["TagKeys"])


@operation("iam", "ListPolicyTags", resource=policy_resource, authorize=False)
def list_policy_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = require_policy(ctx, "iam:ListPolicyTags", params["PolicyArn"])
    tags = [] if policy.is_aws_managed else common.get_tags(ctx.tx, TAG_KIND, policy.id)
    return common.paginate(tags, params, lambda tag: tag["Key"].lower(), "Tags")
