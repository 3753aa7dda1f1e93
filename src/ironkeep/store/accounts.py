"""Accounts: alias, password policy, the write generation, and GetAccountSummary's counts.

The root user's access keys are rows of ``access_keys`` with no user (see :mod:`access_keys`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, exists, func, insert, select
from sqlalchemy import update as sql_update

from ironkeep.errors import EntityAlreadyExists, NoSuchEntity
from ironkeep.model import Account, PasswordPolicy
from ironkeep.store import rows
from ironkeep.store import schema as t

_c = t.accounts.c


def _to_account(row: Row[Any]) -> Account:
    policy = None if row.password_policy is None else PasswordPolicy.from_aws(json.loads(row.password_policy))
    return Account(
        id=row.id, alias=row.alias, created=row.created_at, password_policy=policy, generation=row.generation
    )


def create(tx: Connection, account_id: str, created: datetime) -> Account:
    statement = insert(t.accounts).values(id=account_id, created_at=created, generation=0)
    rows.execute_unique(tx, statement, lambda: EntityAlreadyExists(f"Account {account_id} already exists."))
    return require(tx, account_id)


def get(tx: Connection, account_id: str) -> Account | None:
    row = tx.execute(select(t.accounts).where(_c.id == account_id)).first()
    return None if row is None else _to_account(row)


def require(tx: Connection, account_id: str) -> Account:
    found = get(tx, account_id)
    if found is None:
        raise NoSuchEntity(f"The account {account_id} cannot be found.")
    return found


def first(tx: Connection) -> Account | None:
    """The oldest account (a single-account installation's only one)."""
    row = tx.execute(select(t.accounts).order_by(_c.created_at, _c.id).limit(1)).first()
    return None if row is None else _to_account(row)


def set_alias(tx: Connection, account_id: str, alias: str) -> None:
    """CreateAccountAlias: an account has one alias (a new one replaces it); aliases are unique
    across accounts."""
    statement = sql_update(t.accounts).where(_c.id == account_id).values(alias=alias)
    rows.execute_unique(
        tx, statement, lambda: EntityAlreadyExists(f"The account alias {alias} already exists.")
    )


def delete_alias(tx: Connection, account_id: str, alias: str) -> None:
    done = tx.execute(sql_update(t.accounts).where(_c.id == account_id, _c.alias == alias).values(alias=None))
    if done.rowcount == 0:
        raise NoSuchEntity(f"The account alias {alias} cannot be found.")


def put_password_policy(tx: Connection, account_id: str, policy: PasswordPolicy) -> None:
    text = json.dumps({k: v for k, v in policy.to_aws().items() if k != "ExpirePasswords"}, sort_keys=True)
    tx.execute(sql_update(t.accounts).where(_c.id == account_id).values(password_policy=text))


def password_policy(tx: Connection, account_id: str) -> PasswordPolicy:
    """GetAccountPasswordPolicy; NoSuchEntity when the account has none."""
    text = tx.execute(select(_c.password_policy).where(_c.id == account_id)).scalar()
    if text is None:
        raise NoSuchEntity(f"The Password Policy with domain name {account_id} cannot be found.")
    return PasswordPolicy.from_aws(json.loads(text))


def delete_password_policy(tx: Connection, account_id: str) -> None:
    done = tx.execute(
        sql_update(t.accounts)
        .where(_c.id == account_id, _c.password_policy.is_not(None))
        .values(password_policy=None)
    )
    if done.rowcount == 0:
        raise NoSuchEntity(f"The Password Policy with domain name {account_id} cannot be found.")


def bump_generation(tx: Connection, account_id: str) -> None:
    """Every write in the account moves this counter, in the write's own transaction: principals'
    compiled policies are cached against it."""
    tx.execute(sql_update(t.accounts).where(_c.id == account_id).values(generation=_c.generation + 1))


def usage(tx: Connection, account_id: str) -> dict[str, int]:
    """GetAccountSummary's usage entries, in one query."""

    def counted(table: Any) -> Any:
        return (
            select(func.count()).select_from(table).where(table.c.account_id == account_id).scalar_subquery()
        )

    k = t.access_keys.c
    query = select(
        counted(t.users).label("Users"),
        counted(t.groups).label("Groups"),
        counted(t.roles).label("Roles"),
        counted(t.managed_policies).label("Policies"),
        counted(t.instance_profiles).label("InstanceProfiles"),
        select(func.count())
        .select_from(t.policy_versions.join(t.managed_policies))
        .where(t.managed_policies.c.account_id == account_id)
        .scalar_subquery()
        .label("PolicyVersionsInUse"),
        exists(select(1).where(k.account_id == account_id, k.user_id.is_(None))).label(
            "AccountAccessKeysPresent"
        ),
    )
    return {key: int(value) for key, value in tx.execute(query).one()._mapping.items()}
