"""Console passwords of IAM users (the hash only, from :mod:`ironkeep.auth.passwords`), with the
hashes of the passwords each had before, for the password policy's PasswordReusePrevention."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update

from ironkeep.errors import EntityAlreadyExists, NoSuchEntity
from ironkeep.model import LoginProfile, User
from ironkeep.store import rows
from ironkeep.store import schema as t

_l = t.login_profiles.c

# PasswordReusePrevention is at most 24: the current password and the 23 before it
REMEMBERED = 23


def _to_profile(row: Row[Any], user: User) -> LoginProfile:
    return LoginProfile(
        user_id=user.id,
        user_name=user.name,
        password_hash=row.password_hash,
        password_reset_required=bool(row.password_reset_required),
        created=row.created_at,
        password_changed=row.password_changed_at,
        previous_password_hashes=tuple(json.loads(row.previous_password_hashes or "[]")),
    )


def create(
    tx: Connection, user: User, password_hash: str, reset_required: bool, created: datetime
) -> LoginProfile:
    statement = insert(t.login_profiles).values(
        user_id=user.id,
        password_hash=password_hash,
        password_reset_required=reset_required,
        created_at=created,
        password_changed_at=created,
    )
    rows.execute_unique(
        tx, statement, lambda: EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    )
    return require(tx, user)


def get(tx: Connection, user: User) -> LoginProfile | None:
    row = tx.execute(select(t.login_profiles).where(_l.user_id == user.id)).first()
    return None if row is None else _to_profile(row, user)


def require(tx: Connection, user: User) -> LoginProfile:
    found = get(tx, user)
    if found is None:
        raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")
    return found


def update(
    tx: Connection,
    user: User,
    *,
    password_hash: str | None = None,
    reset_required: bool | None = None,
    changed: datetime | None = None,
) -> LoginProfile:
    """UpdateLoginProfile / ChangePassword: a new hash (with ``changed``) and/or the reset flag. The
    hash it replaces joins the previous ones (the newest :data:`REMEMBERED` are kept)."""
    values: dict[str, Any] = {}
    current = require(tx, user)
    if password_hash is not None:
        values["password_hash"] = password_hash
        previous = (current.password_hash, *current.previous_password_hashes)[:REMEMBERED]
        values["previous_password_hashes"] = json.dumps(previous)
        if changed is not None:
            values["password_changed_at"] = changed
    if reset_required is not None:
        values["password_reset_required"] = reset_required
    if values:
        tx.execute(sql_update(t.login_profiles).where(_l.user_id == user.id).values(**values))
    return require(tx, user)


def delete(tx: Connection, user: User) -> None:
    gone = tx.execute(sql_delete(t.login_profiles).where(_l.user_id == user.id))
    if gone.rowcount == 0:
        raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")
