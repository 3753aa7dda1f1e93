"""IAM instance profiles: Create/Get/List/DeleteInstanceProfile, Add/RemoveRoleToInstanceProfile,
ListInstanceProfilesForRole, and instance-profile tags. An instance profile holds at most one role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select

from ironkeep.auth.keys import UniqueIdPrefix
from ironkeep.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from ironkeep.model import limits
from ironkeep.model.arns import instance_profile_arn
from ironkeep.model.names import check_name, check_path
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_instance_profile, get_role
from ironkeep.services.entities import get_instance_profile as get_profile_row
from ironkeep.services.iam_roles import (
    authorize,
    authorized_role,
    check_account_quota,
    check_modifiable,
    insert_named,
    named_page,
    role_resource,
    role_shape,
)
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

TAG_KIND = "instance-profile"


def profile_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The ARN an instance-profile operation concerns: the profile's, with its stored path."""
    name = params["InstanceProfileName"]
    row = find_instance_profile(ctx.tx, ctx.account_id, name)
    if row is not None:
        return str(row.arn)
    return instance_profile_arn(ctx.account_id, params.get("Path") or "/", name)


def authorized_profile(ctx: CallContext, action: str, name: str, **keys: Any) -> Row[Any]:
    """The instance profile ``name``, once the caller may perform ``action`` on it."""
    row = find_instance_profile(ctx.tx, ctx.account_id, name)
    arn = row.arn if row is not None else instance_profile_arn(ctx.account_id, "/", name)
    authorize(ctx, action, arn, tag_kind=TAG_KIND, resource_id=row.id if row is not None else None, **keys)
    return row if row is not None else get_profile_row(ctx.tx, ctx.account_id, name)


def _roles_of(tx: Connection, profile_id: str) -> list[Row[Any]]:
    return list(
        tx.execute(
            select(t.roles)
            .join(t.instance_profile_roles, t.instance_profile_roles.c.role_id == t.roles.c.id)
            .where(t.instance_profile_roles.c.instance_profile_id == profile_id)
            .order_by(t.roles.c.name_lower)
        ).all()
    )


def profile_shape(tx: Connection, row: Row[Any], *, with_tags: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": row.path,
        "InstanceProfileName": row.name,
        "InstanceProfileId": row.id,
        "Arn": row.arn,
        "CreateDate": common.utc(row.created_at),
        "Roles": [role_shape(tx, role, view="brief") for role in _roles_of(tx, row.id)],
    }
    if with_tags:
        tags = common.get_tags(tx, TAG_KIND, row.id)
        if tags:
            out["Tags"] = tags
    return out


def _page(ctx: CallContext, query: Any, params: dict[str, Any], *, by_path: bool = False) -> dict[str, Any]:
    return named_page(
        ctx,
        t.instance_profiles,
        query,
        params,
        "InstanceProfiles",
        lambda row: profile_shape(ctx.tx, row),
        by_path=by_path,
    )


@operation("iam", "CreateInstanceProfile", resource=profile_resource, authorize=False)
def create_instance_profile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    name = check_name(
        params["InstanceProfileName"], "instanceProfileName", max_length=limits.INSTANCE_PROFILE_NAME_MAX
    )
    path = check_path(params.get("Path"))
    tags = common.check_tags(params.get("Tags", []))
    authorize(
        ctx,
        "iam:CreateInstanceProfile",
        instance_profile_arn(ctx.account_id, path, name),
        request_tags=tags if tags else None,
    )
    check_account_quota(
        ctx, t.instance_profiles, limits.INSTANCE_PROFILES_PER_ACCOUNT, "InstanceProfilesPerAccount"
    )
    if find_instance_profile(ctx.tx, ctx.account_id, name) is not None:
        raise EntityAlreadyExists(f"Instance Profile {name} already exists.")
    arn = instance_profile_arn(ctx.account_id, path, name)
    profile_id = insert_named(ctx, t.instance_profiles, UniqueIdPrefix.INSTANCE_PROFILE, name, path, arn)
    common.put_tags(ctx.tx, TAG_KIND, profile_id, tags)
    row = get_profile_row(ctx.tx, ctx.account_id, name)
    return {"InstanceProfile": profile_shape(ctx.tx, row, with_tags=True)}


@operation("iam", "GetInstanceProfile", resource=profile_resource, authorize=False)
def get_instance_profile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = authorized_profile(ctx, "iam:GetInstanceProfile", params["InstanceProfileName"])
    return {"InstanceProfile": profile_shape(ctx.tx, row, with_tags=True)}


@operation(
    "iam",
    "ListInstanceProfiles",
    resource=lambda ctx, params: instance_profile_arn(ctx.account_id, "/", "*"),
)
def list_instance_profiles(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    query = select(t.instance_profiles).where(t.instance_profiles.c.account_id == ctx.account_id)
    return _page(ctx, query, params, by_path=True)


@operation("iam", "ListInstanceProfilesForRole", resource=role_resource, authorize=False)
def list_instance_profiles_for_role(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    role = authorized_role(ctx, "iam:ListInstanceProfilesForRole", params["RoleName"])
    query = (
        select(t.instance_profiles)
        .join(
            t.instance_profile_roles,
            t.instance_profile_roles.c.instance_profile_id == t.instance_profiles.c.id,
        )
        .where(t.instance_profile_roles.c.role_id == role.id)
    )
    return _page(ctx, query, params)


@operation("iam", "DeleteInstanceProfile", resource=profile_resource, authorize=False)
def delete_instance_profile(ctx: CallContext, params: dict[str, Any]) -> None:
    row = authorized_profile(ctx, "iam:DeleteInstanceProfile", params["InstanceProfileName"])
    if _roles_of(ctx.tx, row.id):
        raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
    common.drop_tags(ctx.tx, TAG_KIND, row.id)
    ctx.tx.execute(delete(t.instance_profiles).where(t.instance_profiles.c.id == row.id))


@operation("iam", "AddRoleToInstanceProfile", resource=profile_resource, authorize=False)
def add_role_to_instance_profile(ctx: CallContext, params: dict[str, Any]) -> None:
    profile = authorized_profile(ctx, "iam:AddRoleToInstanceProfile", params["InstanceProfileName"])
    role = authorized_role(
        ctx, "iam:PassRole", params["RoleName"], extra={"iam:PassedToService": "ec2.amazonaws.com"}
    )
    check_modifiable(role)
    # one role per profile: lock the profile so that two concurrent adds cannot both pass
    ctx.tx.execute(
        select(t.instance_profiles.c.id).where(t.instance_profiles.c.id == profile.id).with_for_update()
    )
    if len(_roles_of(ctx.tx, profile.id)) >= limits.ROLES_PER_INSTANCE_PROFILE:
        raise LimitExceeded(
            f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {limits.ROLES_PER_INSTANCE_PROFILE}"
        )
    ctx.tx.execute(insert(t.instance_profile_roles).values(instance_profile_id=profile.id, role_id=role.id))


@operation("iam", "RemoveRoleFromInstanceProfile", resource=profile_resource, authorize=False)
def remove_role_from_instance_profile(ctx: CallContext, params: dict[str, Any]) -> None:
    profile = authorized_profile(ctx, "iam:RemoveRoleFromInstanceProfile", params["InstanceProfileName"])
    role = get_role(ctx.tx, ctx.account_id, params["RoleName"])
    check_modifiable(role)
    removed = ctx.tx.execute(
        delete(t.instance_profile_roles).where(
            t.instance_profile_roles.c.instance_profile_id == profile.id,
            t.instance_profile_roles.c.role_id == role.id,
        )
    )
    if not removed.rowcount:
        raise NoSuchEntity(
            f"The role with name {role.name} cannot be found in instance profile {profile.name}."
        )


@operation("iam", "TagInstanceProfile", resource=profile_resource, authorize=False)
def tag_instance_profile(ctx: CallContext, params: dict[str, Any]) -> None:
    tags = common.check_tags(params["Tags"])
    row = authorized_profile(ctx, "iam:TagInstanceProfile", params["InstanceProfileName"], request_tags=tags)
    common.put_tags(ctx.tx, TAG_KIND, row.id, tags)


@operation("iam", "UntagInstanceProfile", resource=profile_resource, authorize=False)
def untag_instance_profile(ctx: CallContext, params: dict[str, Any]) -> None:
    row = authorized_profile(
        ctx, "iam:UntagInstanceProfile", params["InstanceProfileName"], tag_keys=params["TagKeys"]
    )
    common.remove_tags(ctx.tx, TAG_KIND, row.id, params["TagKeys"])


@operation("iam", "ListInstanceProfileTags", resource=profile_resource, authorize=False)
def list_instance_profile_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = authorized_profile(ctx, "iam:ListInstanceProfileTags", params["InstanceProfileName"])
    return common.paginate(
        common.get_tags(ctx.tx, TAG_KIND, row.id), params, lambda tag: tag["Key"].lower(), "Tags"
    )
