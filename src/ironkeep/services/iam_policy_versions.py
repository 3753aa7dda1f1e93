"""Versions of managed policies: CreatePolicyVersion, GetPolicyVersion, ListPolicyVersions,
DeletePolicyVersion and SetDefaultPolicyVersion.

A customer-managed policy holds at most five versions (``v1``, ``v2``, ... never reused); one is
the default, the one that takes effect. AWS-managed policies show their default version from the
catalogue. GetPolicyVersion returns the document URL-encoded, as IAM does (boto3 and the AWS CLI
decode it); CreatePolicyVersion and ListPolicyVersions leave the document out, as AWS documents.
"""

from __future__ import annotations

from typing import Any

from ironkeep.errors import NoSuchEntity
from ironkeep.model import ManagedPolicy, PolicyVersion, limits
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.iam_policies import policy_resource, require_local_policy, require_policy
from ironkeep.services.iam_roles import encode_document
from ironkeep.services.registry import operation
from ironkeep.store import policies


def version_shape(version: PolicyVersion, *, with_document: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_document:
        out["Document"] = encode_document(version.document)
    out["VersionId"] = version.version_id
    out["IsDefaultVersion"] = version.is_default
    out["CreateDate"] = common.utc(version.created)
    return out


def _missing(policy: ManagedPolicy, version_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy.arn} version {version_id} does not exist or is not deletable.")


@operation("iam", "CreatePolicyVersion", resource=policy_resource, authorize=False)
def create_policy_version(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = require_local_policy(ctx, "iam:CreatePolicyVersion", params["PolicyArn"])
    document = common.check_policy_document(
        params["PolicyDocument"], kind="identity", max_size=limits.MANAGED_POLICY_SIZE
    )
    version = policies.create_version(ctx.tx, policy, document, bool(params.get("SetAsDefault")), ctx.now)
    # UpdateDate: "when the most recent policy version was created" (IAM API reference, Policy)
    policies.KIND.set_values(ctx.tx, policy.id, updated_at=ctx.now)
    return {"PolicyVersion": version_shape(version)}


@operation("iam", "GetPolicyVersion", resource=policy_resource, authorize=False)
def get_policy_version(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = require_policy(ctx, "iam:GetPolicyVersion", params["PolicyArn"])
    version = policies.get_version(ctx.tx, policy, params["VersionId"])
    if version is None:
        raise _missing(policy, params["VersionId"])
    return {"PolicyVersion": version_shape(version, with_document=True)}


def _number(version_id: str) -> int:
    return int(version_id[1:].split(".", 1)[0])


@operation("iam", "ListPolicyVersions", resource=policy_resource, authorize=False)
def list_policy_versions(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    policy = require_policy(ctx, "iam:ListPolicyVersions", params["PolicyArn"])
    versions = policies.list_versions(ctx.tx, policy)  # newest first
    after = common.decode_marker(params.get("Marker"))
    if after is not None:
        try:
            versions = [v for v in versions if _number(v.version_id) < _number(after)]
        except ValueError:
            raise common.InvalidInput("Invalid Marker.") from None
    limit = common.max_items(params)
    page = versions[:limit]
    out: dict[str, Any] = {
        "Versions": [version_shape(version) for version in page],
        "IsTruncated": len(versions) > limit,
    }
    if len(versions) > limit:
        out["Marker"] = common.encode_marker(page[-1].version_id)
    return out


@operation("iam", "DeletePolicyVersion", resource=policy_resource, authorize=False)
def delete_policy_version(ctx: CallContext, params: dict[str, Any]) -> None:
    policy = require_local_policy(ctx, "iam:DeletePolicyVersion", params["PolicyArn"])
    policies.delete_version(ctx.tx, policy, params["VersionId"])


@operation("iam", "SetDefaultPolicyVersion", resource=policy_resource, authorize=False)
def set_default_policy_version(ctx: CallContext, params: dict[str, Any]) -> None:
    policy = require_local_policy(ctx, "iam:SetDefaultPolicyVersion", params["PolicyArn"])
    policies.set_default_version(ctx.tx, policy, params["VersionId"], policy.updated)
