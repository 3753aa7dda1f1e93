"""Inline policies embedded in a user, group or role (names unique per owner regardless of case)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update

from ironkeep.errors import LimitExceeded, NoSuchEntity
from ironkeep.model import InlinePolicy, Principal
from ironkeep.model.limits import INLINE_POLICY_SIZE, policy_size
from ironkeep.store import rows
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared

_p = t.inline_policies.c


def _owned(owner: Principal) -> tuple[Any, Any]:
    return _p.principal_kind == owner.kind, _p.principal_id == owner.id


def put(tx: Connection, owner: Principal, name: str, document: str) -> InlinePolicy:
    """PutUserPolicy (group, role): add or replace. LimitExceeded when the owner's inline policies
    together would pass IAM's size quota (characters without white space)."""
    others = tx.execute(select(_p.document).where(*_owned(owner), _p.name_lower != name.lower())).scalars()
    limit = INLINE_POLICY_SIZE[owner.kind]
    if sum(map(policy_size, others)) + policy_size(document) > limit:
        raise LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for {owner.kind} {owner.name}")
    replaced = tx.execute(
        sql_update(t.inline_policies)
        .where(*_owned(owner), _p.name_lower == name.lower())
        .values(name=name, document=document)
    )
    if replaced.rowcount == 0:
        tx.execute(
            insert(t.inline_policies).values(
                principal_kind=owner.kind,
                principal_id=owner.id,
                name_lower=name.lower(),
                name=name,
                document=document,
            )
        )
    return InlinePolicy(owner.kind, owner.id, name, document)


def get(tx: Connection, owner: Principal, name: str) -> InlinePolicy | None:
    row = _GET.first(tx, {"kind": owner.kind, "id": owner.id, "name": name.lower()})
    return None if row is None else InlinePolicy(owner.kind, owner.id, row.name, row.document)


# built once (GetUserPolicy, GetRolePolicy ... run it on every call)
_GET = Prepared(
    select(_p.name, _p.document).where(
        _p.principal_kind == bindparam("kind"),
        _p.principal_id == bindparam("id"),
        _p.name_lower == bindparam("name"),
    )
)


def require(tx: Connection, owner: Principal, name: str) -> InlinePolicy:
    found = get(tx, owner, name)
    if found is None:
        raise _missing(owner, name)
    return found


def names(
    tx: Connection, owner: Principal, marker: str | None = None, max_items: int | None = None
) -> tuple[builtins.list[str], str | None]:
    """ListUserPolicies (group, role): the names, by name regardless of case."""
    found, next_marker = rows.page(
        tx, select(_p.name, _p.name_lower).where(*_owned(owner)), _p.name_lower, marker, max_items
    )
    return [row.name for row in found], next_marker


def delete(tx: Connection, owner: Principal, name: str) -> None:
    gone = tx.execute(sql_delete(t.inline_policies).where(*_owned(owner), _p.name_lower == name.lower()))
    if gone.rowcount == 0:
        raise _missing(owner, name)


def _missing(owner: Principal, name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {owner.kind} policy with name {name} cannot be found.")
