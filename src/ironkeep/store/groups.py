"""IAM groups and their members."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import Connection, func, insert, select
from sqlalchemy import delete as sql_delete

from ironkeep.errors import LimitExceeded, NoSuchEntity
from ironkeep.model import Group, User
from ironkeep.model.limits import GROUPS_PER_USER
from ironkeep.store import named, rows, users
from ironkeep.store import schema as t

_c = t.groups.c
_m = t.group_members.c


KIND: named.Kind[Group] = named.Kind(
    t.groups,
    "group",
    Group,
    exists_message=lambda name: f"Group with name {name} already exists.",
    missing_message=lambda name: f"The group with name {name} cannot be found.",
    tag_kind="group",
)

get = KIND.get
require = KIND.require
get_by_id = KIND.get_by_id
list = KIND.list
count = KIND.count
update = KIND.rename  # UpdateUser / UpdateGroup: new name and/or path, hence a new ARN


create = KIND.create  # CreateGroup: (tx, account_id, name, path, group_id, created)


def delete(tx: Connection, group: Group) -> None:
    blockers = [
        (
            named.owns_any(t.group_members, _m.group_id == group.id),
            "Cannot delete entity, must remove users from group first.",
        ),
        *named.principal_blockers("group", group.id),
    ]
    named.delete_checked(tx, KIND, group.id, blockers)


def add_user(tx: Connection, group: Group, user: User, added: datetime) -> None:
    """AddUserToGroup: idempotent; a user may be in at most GROUPS_PER_USER groups."""
    rows.lock_row(tx, t.users, user.id)
    if tx.execute(select(_m.user_id).where(_m.group_id == group.id, _m.user_id == user.id)).first():
        return
    in_groups = tx.execute(select(func.count()).where(_m.user_id == user.id)).scalar_one()
    if in_groups >= GROUPS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
    tx.execute(insert(t.group_members).values(group_id=group.id, user_id=user.id, added_at=added))


def remove_user(tx: Connection, group: Group, user: User) -> None:
    """RemoveUserFromGroup: NoSuchEntity when the user is not a member."""
    removed = tx.execute(sql_delete(t.group_members).where(_m.group_id == group.id, _m.user_id == user.id))
    if removed.rowcount == 0:
        raise NoSuchEntity(f"The user with name {user.name} cannot be found.")


def members(
    tx: Connection, group: Group, marker: str | None = None, max_items: int | None = None
) -> tuple[builtins.list[User], str | None]:
    """GetGroup's users, by name."""
    query = (
        users.KIND.query().join(t.group_members, _m.user_id == t.users.c.id).where(_m.group_id == group.id)
    )
    return named.listing(tx, users.KIND, query, None, marker, max_items)


def for_user(
    tx: Connection, user: User, marker: str | None = None, max_items: int | None = None
) -> tuple[builtins.list[Group], str | None]:
    """ListGroupsForUser: the user's groups, by name."""
    query = KIND.query().join(t.group_members, _m.group_id == _c.id).where(_m.user_id == user.id)
    return named.listing(tx, KIND, query, None, marker, max_items)
