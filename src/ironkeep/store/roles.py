"""IAM roles: trust policy, description, session duration, boundary, last use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import update as sql_update

from ironkeep.model import Role
from ironkeep.model.limits import ROLE_MAX_SESSION_DURATION_DEFAULT
from ironkeep.store import named
from ironkeep.store import schema as t

_c = t.roles.c


KIND: named.Kind[Role] = named.Kind(
    t.roles,
    "role",
    Role,
    exists_message=lambda name: f"Role with name {name} already exists.",
    missing_message=lambda name: f"The role with name {name} cannot be found.",
    tag_kind="role",
)

get = KIND.get
require = KIND.require
get_by_id = KIND.get_by_id
list = KIND.list
count = KIND.count


def create(
    tx: Connection,
    account_id: str,
    name: str,
    path: str,
    role_id: str,
    assume_role_policy: str,
    created: datetime,
    description: str | None = None,
    max_session_duration: int = ROLE_MAX_SESSION_DURATION_DEFAULT,
    permissions_boundary_arn: str | None = None,
) -> Role:
    """CreateRole; EntityAlreadyExists if the account has a role by that name in any case."""
    return KIND.create(
        tx,
        account_id,
        name,
        path,
        role_id,
        created,
        assume_role_policy=assume_role_policy,
        description=description,
        max_session_duration=max_session_duration,
        permissions_boundary_arn=permissions_boundary_arn,
    )


_UNSET: Any = object()


def update(
    tx: Connection, role: Role, description: str | None = _UNSET, max_session_duration: int | None = None
) -> Role:
    """UpdateRole / UpdateRoleDescription: only what is given changes (``description=None`` clears)."""
    values: dict[str, Any] = {}
    if description is not _UNSET:
        values["description"] = description
    if max_session_duration is not None:
        values["max_session_duration"] = max_session_duration
    if not values:
        return role
    return KIND.set_values(tx, role.id, **values)


def update_assume_role_policy(tx: Connection, role: Role, document: str) -> Role:
    return KIND.set_values(tx, role.id, assume_role_policy=document)


def set_permissions_boundary(tx: Connection, role: Role, policy_arn: str | None) -> Role:
    return KIND.set_values(tx, role.id, permissions_boundary_arn=policy_arn)


def note_used(tx: Connection, role_id: str, when: datetime, region: str) -> None:
    """RoleLastUsed: the last time and region the role was assumed."""
    tx.execute(sql_update(t.roles).where(_c.id == role_id).values(last_used_at=when, last_used_region=region))


def delete(tx: Connection, role: Role) -> None:
    ipr = t.instance_profile_roles.c
    blockers = [
        (
            named.owns_any(t.instance_profile_roles, ipr.role_id == role.id),
            "Cannot delete entity, must remove roles from instance profile first.",
        ),
        *named.principal_blockers("role", role.id),
    ]
    named.delete_checked(tx, KIND, role.id, blockers)
