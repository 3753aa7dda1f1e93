"""Long-term access keys of IAM users and of the account's root user (``user_id`` NULL)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update

from ironkeep.errors import LimitExceeded, NoSuchEntity
from ironkeep.model import AccessKey, User
from ironkeep.model.limits import ACCESS_KEYS_PER_USER
from ironkeep.store import rows
from ironkeep.store import schema as t

_k = t.access_keys.c
_u = t.users.c

_QUERY = (
    select(
        t.access_keys,
        _u.name.label("user_name"),
        _u.path.label("user_path"),
        _u.arn.label("user_arn"),
        t.accounts.c.generation.label("account_generation"),
    )
    .join(t.accounts, t.accounts.c.id == _k.account_id)
    .outerjoin(t.users, _u.id == _k.user_id)
)


def _to_key(row: Row[Any]) -> AccessKey:
    return AccessKey(
        id=row.id,
        account_id=row.account_id,
        user_id=row.user_id,
        user_name=row.user_name,
        user_path=row.user_path,
        user_arn=row.user_arn,
        secret_sealed=bytes(row.secret_sealed),
        status=row.status,
        created=row.created_at,
        last_used=row.last_used_at,
        last_used_region=row.last_used_region,
        last_used_service=row.last_used_service,
        account_generation=row.account_generation,
    )


def lookup(tx: Connection, access_key_id: str) -> AccessKey | None:
    """The key, its user and the account's generation, by key id: one query on primary keys
    (authentication's hot path)."""
    row = tx.execute(_QUERY.where(_k.id == access_key_id)).first()
    return None if row is None else _to_key(row)


def _of(account_id: str, user: User | None) -> tuple[Any, Any]:
    owner = _k.user_id.is_(None) if user is None else _k.user_id == user.id
    return _k.account_id == account_id, owner


def create(
    tx: Connection,
    account_id: str,
    user: User | None,
    access_key_id: str,
    secret_sealed: bytes,
    created: datetime,
    status: str = "Active",
) -> AccessKey:
    """CreateAccessKey for ``user`` (None: the root user); LimitExceeded past two keys."""
    if user is None:
        rows.lock_row(tx, t.accounts, account_id)
    else:
        rows.lock_row(tx, t.users, user.id)
    held = tx.execute(select(func.count()).where(*_of(account_id, user))).scalar_one()
    if held >= ACCESS_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
    tx.execute(
        insert(t.access_keys).values(
            id=access_key_id,
            account_id=account_id,
            user_id=None if user is None else user.id,
            secret_sealed=secret_sealed,
            status=status,
            created_at=created,
        )
    )
    found = lookup(tx, access_key_id)
    assert found is not None
    return found


def for_user(tx: Connection, account_id: str, user: User | None) -> builtins.list[AccessKey]:
    """ListAccessKeys: the user's (or root's) keys, oldest first."""
    query = _QUERY.where(*_of(account_id, user)).order_by(_k.created_at, _k.id)
    return [_to_key(row) for row in tx.execute(query)]


def _missing(access_key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")


def set_status(tx: Connection, account_id: str, user: User | None, access_key_id: str, status: str) -> None:
    """UpdateAccessKey: Active or Inactive; NoSuchEntity unless the key is that user's."""
    done = tx.execute(
        sql_update(t.access_keys).where(_k.id == access_key_id, *_of(account_id, user)).values(status=status)
    )
    if done.rowcount == 0:
        raise _missing(access_key_id)


def delete(tx: Connection, account_id: str, user: User | None, access_key_id: str) -> None:
    done = tx.execute(sql_delete(t.access_keys).where(_k.id == access_key_id, *_of(account_id, user)))
    if done.rowcount == 0:
        raise _missing(access_key_id)


def note_used(tx: Connection, access_key_id: str, when: datetime, region: str, service: str) -> None:
    """GetAccessKeyLastUsed's data."""
    tx.execute(
        sql_update(t.access_keys)
        .where(_k.id == access_key_id)
        .values(last_used_at=when, last_used_region=region, last_used_service=service)
    )
