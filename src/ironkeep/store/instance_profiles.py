"""Instance profiles and the (at most one) role each carries."""

from __future__ import annotations

import builtins
from collections import defaultdict
from dataclasses import replace

from sqlalchemy import Connection, func, insert, select
from sqlalchemy import delete as sql_delete

from ironkeep.errors import LimitExceeded, NoSuchEntity
from ironkeep.model import InstanceProfile, Role
from ironkeep.model.limits import ROLES_PER_INSTANCE_PROFILE
from ironkeep.store import named, roles
from ironkeep.store import schema as t

_c = t.instance_profiles.c
_r = t.instance_profile_roles.c


KIND: named.Kind[InstanceProfile] = named.Kind(
    t.instance_profiles,
    "instance-profile",
    InstanceProfile,
    exists_message=lambda name: f"Instance Profile {name} already exists.",
    missing_message=lambda name: f"Instance Profile {name} cannot be found.",
    tag_kind="instance-profile",
)

count = KIND.count


create = KIND.create  # CreateInstanceProfile: (tx, account_id, name, path, profile_id, created)


def get(tx: Connection, account_id: str, name: str) -> InstanceProfile | None:
    profile = KIND.get(tx, account_id, name)
    return None if profile is None else _with_roles(tx, [profile])[0]


def require(tx: Connection, account_id: str, name: str) -> InstanceProfile:
    profile = get(tx, account_id, name)
    if profile is None:
        raise KIND.missing(name)
    return profile


def list(
    tx: Connection,
    account_id: str,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> tuple[builtins.list[InstanceProfile], str | None]:
    found, next_marker = KIND.list(tx, account_id, path_prefix, marker, max_items)
    return _with_roles(tx, found), next_marker


def for_role(
    tx: Connection, role: Role, marker: str | None = None, max_items: int | None = None
) -> tuple[builtins.list[InstanceProfile], str | None]:
    """ListInstanceProfilesForRole."""
    query = (
        KIND.query()
        .join(t.instance_profile_roles, _r.instance_profile_id == _c.id)
        .where(_r.role_id == role.id)
    )
    found, next_marker = named.listing(tx, KIND, query, None, marker, max_items)
    return _with_roles(tx, found), next_marker


def add_role(tx: Connection, profile: InstanceProfile, role: Role) -> None:
    held = tx.execute(select(func.count()).where(_r.instance_profile_id == profile.id)).scalar_one()
    if held >= ROLES_PER_INSTANCE_PROFILE:
        raise LimitExceeded(
            f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_INSTANCE_PROFILE}"
        )
    tx.execute(insert(t.instance_profile_roles).values(instance_profile_id=profile.id, role_id=role.id))


def remove_role(tx: Connection, profile: InstanceProfile, role: Role) -> None:
    gone = tx.execute(
        sql_delete(t.instance_profile_roles).where(
            _r.instance_profile_id == profile.id, _r.role_id == role.id
        )
    )
    if gone.rowcount == 0:
        raise NoSuchEntity(f"The role with name {role.name} cannot be found.")


def delete(tx: Connection, profile: InstanceProfile) -> None:
    blockers = [
        (
            named.owns_any(t.instance_profile_roles, _r.instance_profile_id == profile.id),
            "Cannot delete entity, must remove roles from instance profile first.",
        )
    ]
    named.delete_checked(tx, KIND, profile.id, blockers)


def _with_roles(tx: Connection, profiles: builtins.list[InstanceProfile]) -> builtins.list[InstanceProfile]:
    """The profiles with their roles, in one query for all of them."""
    if not profiles:
        return profiles
    held: dict[str, builtins.list[Role]] = defaultdict(builtins.list)
    query = (
        select(t.roles, _r.instance_profile_id)
        .join(t.instance_profile_roles, _r.role_id == t.roles.c.id)
        .where(_r.instance_profile_id.in_([p.id for p in profiles]))
        .order_by(t.roles.c.name_lower)
    )
    for row in tx.execute(query):
        held[row.instance_profile_id].append(roles.KIND.to_entity(row))
    return [replace(p, roles=tuple(held[p.id])) for p in profiles]
