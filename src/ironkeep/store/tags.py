"""Tags of IAM resources, by ``(resource kind, resource id)``; keys are unique regardless of case.

Kinds: ``user``, ``role``, ``policy``, ``instance-profile`` (and later ``mfa``, ``oidc-provider``,
``saml-provider``, ``server-certificate``). The id is the entity's unique id.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update

from ironkeep.errors import InvalidInput, LimitExceeded
from ironkeep.model import Tag
from ironkeep.model.limits import TAGS_PER_ENTITY
from ironkeep.store import dialect, rows
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared

_t = t.tags.c


def _of(kind: str, resource_id: str) -> tuple[Any, Any]:
    return _t.resource_kind == kind, _t.resource_id == resource_id


def put(
    tx: Connection, kind: str, resource_id: str, tags: Iterable[Tag], quota: int = TAGS_PER_ENTITY
) -> None:
    """TagUser (role, policy, ...): add, or replace the value (and the key's case) of a key the
    resource already has in any case. LimitExceeded when the resource would pass ``quota``."""
    tags = builtins.list(tags)
    if not tags:
        return  # CreateUser (role, policy ...) without tags: nothing to read or write
    wanted: dict[str, Tag] = {}
    for tag in tags:
        if tag.key.lower() in wanted:
            raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        wanted[tag.key.lower()] = tag
    held = set(tx.execute(select(_t.key_lower).where(*_of(kind, resource_id))).scalars())
    if len(held | wanted.keys()) > quota:
        raise LimitExceeded(f"The number of tags has reached the maximum limit of {quota}.")
    for lower, tag in wanted.items():
        if lower in held:
            tx.execute(
                sql_update(t.tags)
                .where(*_of(kind, resource_id), _t.key_lower == lower)
                .values(key=tag.key, value=tag.value)
            )
        else:
            tx.execute(
                insert(t.tags).values(
                    resource_kind=kind, resource_id=resource_id, key_lower=lower, key=tag.key, value=tag.value
                )
            )


def remove(tx: Connection, kind: str, resource_id: str, keys: Iterable[str]) -> None:
    """UntagUser (...): keys matched regardless of case; absent keys are ignored, as IAM does."""
    lowered = [key.lower() for key in keys]
    if lowered:
        tx.execute(sql_delete(t.tags).where(*_of(kind, resource_id), _t.key_lower.in_(lowered)))


def _all_of_statement(ordered_by: Any) -> Any:
    return (
        select(_t.key, _t.value)
        .where(_t.resource_kind == bindparam("kind"), _t.resource_id == bindparam("rid"))
        .order_by(ordered_by)
    )


# Built once (bind parameters): reading the tags is on GetUser's hot path. By code point on both
# stores (PostgreSQL's collation could otherwise differ): the plain column on SQLite, COLLATE "C"
# on PostgreSQL.
_ALL_OF = {
    "sqlite": Prepared(_all_of_statement(_t.key_lower)),
    "postgresql": Prepared(_all_of_statement(_t.key_lower.collate("C"))),
}


def all_of(tx: Connection, kind: str, resource_id: str) -> builtins.list[Tag]:
    """Every tag of a resource, by key regardless of case."""
    params = {"kind": kind, "rid": resource_id}
    prepared = _ALL_OF.get(tx.dialect.name)
    if prepared is not None:
        return [Tag(row.key, row.value) for row in prepared.all(tx, params)]
    query = _all_of_statement(dialect.sortable(tx, _t.key_lower))
    return [Tag(row.key, row.value) for row in tx.execute(query, params)]


def list(
    tx: Connection, kind: str, resource_id: str, marker: str | None = None, max_items: int | None = None
) -> tuple[builtins.list[Tag], str | None]:
    """ListUserTags (...): by key regardless of case, a page at a time."""
    query = select(_t.key, _t.value, _t.key_lower).where(*_of(kind, resource_id))
    found, next_marker = rows.page(tx, query, _t.key_lower, marker, max_items)
    return [Tag(row.key, row.value) for row in found], next_marker


def drop(tx: Connection, kind: str, resource_id: str) -> None:
    """Every tag of a resource that is being deleted."""
    tx.execute(_DROP, {"kind": kind, "id": resource_id})


# built once: a statement built per call costs more than SQLite's work on a resource's few tags
_DROP = sql_delete(t.tags).where(_t.resource_kind == bindparam("kind"), _t.resource_id == bindparam("id"))
