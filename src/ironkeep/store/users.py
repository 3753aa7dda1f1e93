"""IAM users: create, read, list by name, rename, boundaries, delete with IAM's conflicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy import update as sql_update

from ironkeep.model import User
from ironkeep.store import named
from ironkeep.store import schema as t

_c = t.users.c


KIND: named.Kind[User] = named.Kind(
    t.users,
    "user",
    User,
    exists_message=lambda name: f"User with name {name} already exists.",
    missing_message=lambda name: f"The user with name {name} cannot be found.",
    tag_kind="user",
)

get = KIND.get
require = KIND.require
get_by_id = KIND.get_by_id
list = KIND.list
count = KIND.count
update = KIND.rename  # UpdateUser / UpdateGroup: new name and/or path, hence a new ARN


def create(
    tx: Connection,
    account_id: str,
    name: str,
    path: str,
    user_id: str,
    created: datetime,
    permissions_boundary_arn: str | None = None,
) -> User:
    """CreateUser; EntityAlreadyExists if the account has a user by that name in any case."""
    return KIND.create(
        tx, account_id, name, path, user_id, created, permissions_boundary_arn=permissions_boundary_arn
    )


def set_permissions_boundary(tx: Connection, user: User, policy_arn: str | None) -> User:
    """Put (an ARN) or delete (None) the user's permissions boundary."""
    return KIND.set_values(tx, user.id, permissions_boundary_arn=policy_arn)


def note_password_used(tx: Connection, user_id: str, when: datetime) -> None:
    tx.execute(sql_update(t.users).where(_c.id == user_id).values(password_last_used=when))


def delete(tx: Connection, user: User) -> None:
    """DeleteUser: refused (DeleteConflict, IAM's words) while anything still hangs on the user."""
    keys, login, members = t.access_keys.c, t.login_profiles.c, t.group_members.c
    blockers = [
        (
            named.owns_any(t.login_profiles, login.user_id == user.id),
            "Cannot delete entity, must delete login profile first.",
        ),
        (
            named.owns_any(t.access_keys, keys.user_id == user.id),
            "Cannot delete entity, must delete access keys first.",
        ),
        *named.principal_blockers("user", user.id),
        *(
            (named.owns_any(table, table.c.user_id == user.id), f"Cannot delete entity, must {words} first.")
            for table, words in (
                (t.signing_certificates, "delete signing certificates"),
                (t.ssh_public_keys, "delete SSH public keys"),
                (t.service_specific_credentials, "delete service-specific credentials"),
                (t.mfa_devices, "delete MFA device"),
            )
        ),
        (
            named.owns_any(t.group_members, members.user_id == user.id),
            "Cannot delete entity, must remove users from group first.",
        ),
    ]
    named.delete_checked(tx, KIND, user.id, blockers)
