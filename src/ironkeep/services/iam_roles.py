"""IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription, DeleteRole,
UpdateAssumeRolePolicy, and role tags.

A role's trust policy (``AssumeRolePolicyDocument``) is stored as the caller wrote it and returned
URL-encoded, as IAM does (boto3 and the AWS CLI decode it). Service-linked roles live under the
path ``/aws-service-role/<service>/``; only their service may change them (UnmodifiableEntity).

Role operations authorize themselves (``authorize=False`` in the registry) so that the request's
condition keys reach the engine: ``aws:ResourceTag/*`` (the role's tags), ``aws:RequestTag/*`` and
``aws:TagKeys`` (tags in the request) and ``iam:PermissionsBoundary``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Row, Select, Table, delete, func, insert, select, update

from ironkeep.auth.keys import UniqueIdPrefix, new_unique_id
from ironkeep.errors import (
    AWSError,
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    MalformedPolicyDocument,
)
from ironkeep.model import limits
from ironkeep.model.arns import parse_iam_arn, role_arn
from ironkeep.model.names import check_name, check_path, check_path_prefix
from ironkeep.policy import parse_policy
from ironkeep.services import authz, common
from ironkeep.services.boundaries import check_boundary_arn
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_role
from ironkeep.services.entities import get_role as get_role_row
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

TAG_KIND = "role"
SERVICE_LINKED_PATH = "/aws-service-role/"


class UnmodifiableEntity(AWSError):
    code = "UnmodifiableEntity"
    status = 400


def is_service_linked(row: Row[Any]) -> bool:
    return bool(row.path.startswith(SERVICE_LINKED_PATH))


def check_modifiable(row: Row[Any]) -> None:
    """Refuse to change a service-linked role (its service owns it), with AWS's words."""
    if is_service_linked(row):
        raise UnmodifiableEntity(
            f"Cannot perform the operation on the protected role '{row.name}' - "
            "this role is only modifiable by AWS"
        )


def encode_document(document: str) -> str:
    """IAM returns policy documents URL-encoded (RFC 3986)."""
    return quote(document, safe="")


# ---------------------------------------------------------------------------------------------
# authorization with the request's condition keys


def tag_context(
    *,
    resource_tags: Iterable[Mapping[str, str]] = (),
    request_tags: Iterable[Mapping[str, str]] | None = None,
    tag_keys: Iterable[str] | None = None,
) -> dict[str, Any]:
    """``aws:ResourceTag/*`` (and IAM's ``iam:ResourceTag/*``), ``aws:RequestTag/*``, ``aws:TagKeys``."""
    context: dict[str, Any] = {}
    for tag in resource_tags:
        context[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
        context[f"iam:ResourceTag/{tag['Key']}"] = tag["Value"]
    keys = list(tag_keys) if tag_keys is not None else None
    if request_tags is not None:
        tags = list(request_tags)
        for tag in tags:
            context[f"aws:RequestTag/{tag['Key']}"] = tag.get("Value", "")
        keys = (keys or []) + [tag["Key"] for tag in tags]
    if keys:
        context["aws:TagKeys"] = keys
    return context


def authorize(
    ctx: CallContext,
    action: str,
    arn: str,
    *,
    tag_kind: str | None = None,
    resource_id: str | None = None,
    request_tags: Iterable[Mapping[str, str]] | None = None,
    tag_keys: Iterable[str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Ask the engine whether the caller may perform ``action`` on ``arn``.

    The tags of the existing resource (``tag_kind``, ``resource_id``) become ``aws:ResourceTag/*``.
    """
    context: dict[str, Any] = {}
    if not ctx.caller.is_root:  # root in its own account is allowed without evaluation
        resource_tags = common.get_tags(ctx.tx, tag_kind, resource_id) if tag_kind and resource_id else []
        context = tag_context(resource_tags=resource_tags, request_tags=request_tags, tag_keys=tag_keys)
        context.update(extra or {})
    authz.check(ctx, action, arn, context)


def authorized_role(ctx: CallContext, action: str, name: str, **keys: Any) -> Row[Any]:
    """The role ``name``, once the caller may perform ``action`` on it (NoSuchEntity after that)."""
    row = find_role(ctx.tx, ctx.account_id, name)
    arn = row.arn if row is not None else role_arn(ctx.account_id, "/", name)
    authorize(ctx, action, arn, tag_kind=TAG_KIND, resource_id=row.id if row is not None else None, **keys)
    return row if row is not None else get_role_row(ctx.tx, ctx.account_id, name)


def role_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The ARN a role operation concerns: the role's, with its stored path."""
    name = params.get("RoleName")
    if not name:
        return ctx.caller.arn
    row = find_role(ctx.tx, ctx.account_id, name)
    return row.arn if row is not None else role_arn(ctx.account_id, params.get("Path") or "/", name)


# ---------------------------------------------------------------------------------------------
# what named entities of an account share: a count quota, Marker pages by name


def check_account_quota(ctx: CallContext, table: Table, limit: int, quota: str) -> None:
    """LimitExceeded once the account holds ``limit`` rows of ``table``. The account's row is
    locked first (PostgreSQL), so that concurrent creates cannot both pass the count."""
    ctx.tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == ctx.account_id).with_for_update())
    count = ctx.tx.execute(
        select(func.count()).select_from(table).where(table.c.account_id == ctx.account_id)
    ).scalar_one()
    if count >= limit:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {limit}")


def insert_named(
    ctx: CallContext, table: Table, prefix: UniqueIdPrefix, name: str, path: str, arn: str, **columns: Any
) -> str:
    """Insert a named entity with a new unique id (returned); ``columns`` are the table's own."""
    entity_id = new_unique_id(prefix)
    ctx.tx.execute(
        insert(table).values(
            id=entity_id,
            account_id=ctx.account_id,
            name=name,
            name_lower=name.lower(),
            path=path,
            arn=arn,
            created_at=ctx.now,
            **columns,
        )
    )
    return entity_id


def named_page(
    ctx: CallContext,
    table: Table,
    query: Select[Any],
    params: dict[str, Any],
    list_name: str,
    shape: Callable[[Row[Any]], dict[str, Any]],
    *,
    by_path: bool = False,
) -> dict[str, Any]:
    """One Marker/MaxItems page of ``query``'s rows of ``table``, by name regardless of case
    (and under the request's PathPrefix when ``by_path``)."""
    if by_path:
        prefix = check_path_prefix(params.get("PathPrefix"))
        if prefix != "/":
            query = query.where(table.c.path.startswith(prefix, autoescape=True))
    after = common.decode_marker(params.get("Marker"))
    if after is not None:
        query = query.where(table.c.name_lower > after)
    limit = common.max_items(params)
    rows = ctx.tx.execute(query.order_by(table.c.name_lower).limit(limit + 1)).all()
    out: dict[str, Any] = {list_name: [shape(row) for row in rows[:limit]], "IsTruncated": len(rows) > limit}
    if len(rows) > limit:
        out["Marker"] = common.encode_marker(rows[limit - 1].name_lower)
    return out


# ---------------------------------------------------------------------------------------------
# shapes


def role_shape(tx: Connection, row: Row[Any], *, view: str = "full") -> dict[str, Any]:
    """The Role structure as each operation returns it.

    ``brief``: as inside an InstanceProfile. ``list``: ListRoles (no PermissionsBoundary, Tags
    or RoleLastUsed, as AWS documents). ``create``: CreateRole (no RoleLastUsed). ``full``: GetRole.
    """
    out: dict[str, Any] = {
        "Path": row.path,
        "RoleName": row.name,
        "RoleId": row.id,
        "Arn": row.arn,
        "CreateDate": common.utc(row.created_at),
        "AssumeRolePolicyDocument": encode_document(row.assume_role_policy),
    }
    if view == "brief":
        return out
    if row.description is not None:
        out["Description"] = row.description
    out["MaxSessionDuration"] = row.max_session_duration
    if view == "list":
        return out
    if row.permissions_boundary_arn:
        out["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": row.permissions_boundary_arn,
        }
    tags = common.get_tags(tx, TAG_KIND, row.id)
    if tags:
        out["Tags"] = tags
    if view == "full":
        last_used: dict[str, Any] = {}
        if row.last_used_at is not None:
            last_used["LastUsedDate"] = common.utc(row.last_used_at)
            if row.last_used_region:
                last_used["Region"] = row.last_used_region
        out["RoleLastUsed"] = last_used
    return out


# ---------------------------------------------------------------------------------------------
# trust policies


# The actions a trust policy may grant (a pattern must match one of them).
TRUST_ACTIONS = (
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
)


def is_trust_action(action: str) -> bool:
    pattern = re.compile(
        "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in action), re.IGNORECASE
    )
    return any(pattern.fullmatch(known) for known in TRUST_ACTIONS)


def check_trust_document(tx: Connection, document: str) -> str:
    """Validate a trust policy as IAM does: the grammar and size, only STS actions, and the IAM
    users and roles it names must exist (for accounts this server holds)."""
    common.check_trust_policy(document)
    for statement in parse_policy(document, kind="trust").statements:
        if not all(is_trust_action(action) for action in statement.actions or ()):
            raise MalformedPolicyDocument("AssumeRole policy may only specify STS AssumeRole actions.")
        if statement.principal is None:
            continue
        for value in statement.principal.aws:
            if not _principal_exists(tx, value):
                raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{value}"')
    return document


def _principal_exists(tx: Connection, value: str) -> bool:
    parsed = parse_iam_arn(value)
    if parsed is None or parsed.kind not in ("user", "role") or "*" in value or "?" in value:
        return True  # account ids, root, unique ids, other services: nothing to look up
    known = tx.execute(select(t.accounts.c.id).where(t.accounts.c.id == parsed.account_id)).first()
    if known is None:
        return True  # an account this server does not hold
    table = t.users if parsed.kind == "user" else t.roles
    found = tx.execute(
        select(table.c.id).where(
            table.c.account_id == parsed.account_id,
            table.c.name_lower == parsed.name.lower(),
            table.c.path == parsed.path,
        )
    ).first()
    return found is not None


# ---------------------------------------------------------------------------------------------
# handlers


def insert_role(
    ctx: CallContext,
    *,
    name: str,
    path: str,
    document: str,
    description: str | None = None,
    max_session_duration: int = limits.ROLE_MAX_SESSION_DURATION_DEFAULT,
    boundary: str | None = None,
) -> Row[Any]:
    """Insert a role after the account's quota and the name's uniqueness (regardless of case)."""
    check_account_quota(ctx, t.roles, limits.ROLES_PER_ACCOUNT, "RolesPerAccount")
    if find_role(ctx.tx, ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"Role with name {name} already exists.")
    insert_named(
        ctx,
        t.roles,
        UniqueIdPrefix.ROLE,
        name,
        path,
        role_arn(ctx.account_id, path, name),
        assume_role_policy=document,
        description=description,
        max_session_duration=max_session_duration,
        permissions_boundary_arn=boundary,
    )
    return get_role_row(ctx.tx, ctx.account_id, name)


@operation("iam", "CreateRole", resource=role_resource, authorize=False)
def create_role(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(params["RoleName"], "roleName", max_length=limits.ROLE_NAME_MAX)
    path = check_path(params.get("Path"))
    tags = common.check_tags(params.get("Tags", []))
    boundary = params.get("PermissionsBoundary")
    authorize(
        ctx,
        "iam:CreateRole",
        role_arn(ctx.account_id, path, name),
        request_tags=tags if tags else None,
        extra={"iam:PermissionsBoundary": boundary} if boundary else None,
    )
    if path.startswith(SERVICE_LINKED_PATH):
        raise common.InvalidInput(
            f"Path prefix '{SERVICE_LINKED_PATH}' can only be used for AWS Service linked Roles"
        )
    document = check_trust_document(ctx.tx, params["AssumeRolePolicyDocument"])
    if boundary:
        check_boundary_arn(ctx, boundary)
    row = insert_role(
        ctx,
        name=name,
        path=path,
        document=document,
        description=params.get("Description"),
        max_session_duration=params.get("MaxSessionDuration") or limits.ROLE_MAX_SESSION_DURATION_DEFAULT,
        boundary=boundary,
    )
    common.put_tags(ctx.tx, TAG_KIND, row.id, tags)
    return {"Role": role_shape(ctx.tx, row, view="create")}


@operation("iam", "GetRole", resource=role_resource, authorize=False)
def get_role(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = authorized_role(ctx, "iam:GetRole", params["RoleName"])
    return {"Role": role_shape(ctx.tx, row)}


@operation("iam", "ListRoles", resource=lambda ctx, params: role_arn(ctx.account_id, "/", "*"))
def list_roles(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    query = select(t.roles).where(t.roles.c.account_id == ctx.account_id)
    return named_page(
        ctx, t.roles, query, params, "Roles", lambda row: role_shape(ctx.tx, row, view="list"), by_path=True
    )


@operation("iam", "UpdateRole", resource=role_resource, authorize=False)
def update_role(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = authorized_role(ctx, "iam:UpdateRole", params["RoleName"])
    values: dict[str, Any] = {}
    if params.get("Description") is not None:
        values["description"] = params["Description"]
    if params.get("MaxSessionDuration") is not None:
        check_modifiable(row)
        values["max_session_duration"] = params["MaxSessionDuration"]
    if values:
        ctx.tx.execute(update(t.roles).where(t.roles.c.id == row.id).values(**values))
    return {}


@operation("iam", "UpdateRoleDescription", resource=role_resource, authorize=False)
def update_role_description(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = authorized_role(ctx, "iam:UpdateRoleDescription", params["RoleName"])
    ctx.tx.execute(update(t.roles).where(t.roles.c.id == row.id).values(description=params["Description"]))
    return {"Role": role_shape(ctx.tx, get_role_row(ctx.tx, ctx.account_id, row.name))}


# What must be gone before a role can be deleted, with AWS's message for each.
_ROLE_DEPENDENTS = (
    (
        t.instance_profile_roles,
        (t.instance_profile_roles.c.role_id,),
        "Cannot delete entity, must remove roles from instance profile first.",
    ),
    (
        t.policy_attachments,
        (t.policy_attachments.c.principal_id, t.policy_attachments.c.principal_kind),
        "Cannot delete entity, must detach all policies first.",
    ),
    (
        t.inline_policies,
        (t.inline_policies.c.principal_id, t.inline_policies.c.principal_kind),
        "Cannot delete entity, must delete policies first.",
    ),
)

# Other modules add their own DeleteConflict checks here: ``check(ctx, row)``.
EXTRA_DELETE_CHECKS: list[Any] = []


def check_deletable(ctx: CallContext, row: Row[Any]) -> None:
    for table, columns, message in _ROLE_DEPENDENTS:
        where = [columns[0] == row.id] + ([columns[1] == "role"] if len(columns) > 1 else [])
        if ctx.tx.execute(select(func.count()).select_from(table).where(*where)).scalar_one():
            raise DeleteConflict(message)
    for check in EXTRA_DELETE_CHECKS:
        check(ctx, row)


def drop_role(ctx: CallContext, row: Row[Any]) -> None:
    common.drop_tags(ctx.tx, TAG_KIND, row.id)
    ctx.tx.execute(delete(t.roles).where(t.roles.c.id == row.id))


@operation("iam", "DeleteRole", resource=role_resource, authorize=False)
def delete_role(ctx: CallContext, params: dict[str, Any]) -> None:
    row = authorized_role(ctx, "iam:DeleteRole", params["RoleName"])
    check_modifiable(row)
    check_deletable(ctx, row)
    drop_role(ctx, row)


@operation("iam", "UpdateAssumeRolePolicy", resource=role_resource, authorize=False)
def update_assume_role_policy(ctx: CallContext, params: dict[str, Any]) -> None:
    row = authorized_role(ctx, "iam:UpdateAssumeRolePolicy", params["RoleName"])
    check_modifiable(row)
    document = check_trust_document(ctx.tx, params["PolicyDocument"])
    ctx.tx.execute(update(t.roles).where(t.roles.c.id == row.id).values(assume_role_policy=document))


@operation("iam", "TagRole", resource=role_resource, authorize=False)
def tag_role(ctx: CallContext, params: dict[str, Any]) -> None:
    tags = common.check_tags(params["Tags"])
    row = authorized_role(ctx, "iam:TagRole", params["RoleName"], request_tags=tags)
    common.put_tags(ctx.tx, TAG_KIND, row.id, tags)


@operation("iam", "UntagRole", resource=role_resource, authorize=False)
def untag_role(ctx: CallContext, params: dict[str, Any]) -> None:
    row = authorized_role(ctx, "iam:UntagRole", params["RoleName"], tag_keys=params["TagKeys"])
    common.remove_tags(ctx.tx, TAG_KIND, row.id, params["TagKeys"])


@operation("iam", "ListRoleTags", resource=role_resource, authorize=False)
def list_role_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = authorized_role(ctx, "iam:ListRoleTags", params["RoleName"])
    return common.paginate(
        common.get_tags(ctx.tx, TAG_KIND, row.id), params, lambda tag: tag["Key"].lower(), "Tags"
    )
