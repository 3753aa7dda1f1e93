"""Finding IAM entities by name (regardless of case, as IAM does), with AWS's NoSuchEntity words.

Every service module looks entities up through these functions, so a name is matched the same way
everywhere. ``find_*`` returns the row or None; ``get_*`` raises NoSuchEntity.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, select

from ironkeep.errors import NoSuchEntity
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared

# Statements are built once and run as prepared statements: these lookups are on every call's path.
_BY_NAME: dict[str, Prepared] = {}


def _find(tx: Connection, table: Table, account_id: str, name: str) -> Row[Any] | None:
    statement = _BY_NAME.get(table.name)
    if statement is None:
        statement = Prepared(
            select(table).where(
                table.c.account_id == bindparam("account"), table.c.name_lower == bindparam("name")
            )
        )
        _BY_NAME[table.name] = statement
    return statement.first(tx, {"account": account_id, "name": name.lower()})


def find_user(tx: Connection, account_id: str, name: str) -> Row[Any] | None:
    return _find(tx, t.users, account_id, name)


def get_user(tx: Connection, account_id: str, name: str) -> Row[Any]:
    row = find_user(tx, account_id, name)
    if row is None:
        raise NoSuchEntity(f"The user with name {name} cannot be found.")
    return row


def find_group(tx: Connection, account_id: str, name: str) -> Row[Any] | None:
    return _find(tx, t.groups, account_id, name)


def get_group(tx: Connection, account_id: str, name: str) -> Row[Any]:
    row = find_group(tx, account_id, name)
    if row is None:
        raise NoSuchEntity(f"The group with name {name} cannot be found.")
    return row


def find_role(tx: Connection, account_id: str, name: str) -> Row[Any] | None:
    return _find(tx, t.roles, account_id, name)


def get_role(tx: Connection, account_id: str, name: str) -> Row[Any]:
    row = find_role(tx, account_id, name)
    if row is None:
        raise NoSuchEntity(f"The role with name {name} cannot be found.")
    return row


def find_instance_profile(tx: Connection, account_id: str, name: str) -> Row[Any] | None:
    return _find(tx, t.instance_profiles, account_id, name)


def get_instance_profile(tx: Connection, account_id: str, name: str) -> Row[Any]:
    row = find_instance_profile(tx, account_id, name)
    if row is None:
        raise NoSuchEntity(f"Instance Profile {name} cannot be found.")
    return row


def find_managed_policy(tx: Connection, account_id: str, arn: str) -> Row[Any] | None:
    """A customer-managed policy of this account, by ARN (AWS-managed ones: model.aws_policies)."""
    return tx.execute(
        select(t.managed_policies).where(
            t.managed_policies.c.account_id == account_id, t.managed_policies.c.arn == arn
        )
    ).first()


def get_managed_policy(tx: Connection, account_id: str, arn: str) -> Row[Any]:
    row = find_managed_policy(tx, account_id, arn)
    if row is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    return row
