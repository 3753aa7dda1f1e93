"""What the repository modules share: unique inserts, Marker pagination, path prefixes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Executable, Select, func, literal_column
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from ironkeep.errors import AWSError
from ironkeep.model.limits import MAX_ITEMS_DEFAULT
from ironkeep.store import dialect


def execute_unique(tx: Connection, statement: Executable, error: Callable[[], AWSError]) -> Any:
    """Run an INSERT or UPDATE that may break a unique key; the violation becomes ``error()``.

    The statement runs in a savepoint, so the transaction stays usable after the error (on
    PostgreSQL a failed statement would otherwise abort it). Concurrent writers of one name get
    exactly one success: the others wait on the index (PostgreSQL) or the write lock (SQLite) and
    then see the row.
    """
    try:
        with tx.begin_nested():
            return tx.execute(statement)
    except IntegrityError as exc:
        if dialect.is_unique_violation(exc):
            raise error() from None
        raise


def page(
    tx: Connection,
    query: Select[Any],
    key: ColumnElement[Any],
    marker: str | None,
    max_items: int | None,
) -> tuple[Sequence[Any], str | None]:
    """One page of ``query`` ordered by ``key``: the rows after ``marker`` and the marker of the
    next page (the key of this page's last row), or None when this page is the last."""
    limit = max_items or MAX_ITEMS_DEFAULT
    ordered = dialect.sortable(tx, key)
    if marker is not None:
        query = query.where(ordered > marker)
    rows = tx.execute(query.order_by(ordered).limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, str(getattr(rows[-1], str(key.key)))


def under_path(column: ColumnElement[str], path_prefix: str | None) -> ColumnElement[bool] | None:
    """Rows whose path starts with ``path_prefix`` (case-sensitive on both dialects), or None for all."""
    if not path_prefix or path_prefix == "/":
        return None
    return starts_with(column, path_prefix, len(path_prefix))


def starts_with(column: ColumnElement[str], prefix: Any, length: Any) -> ColumnElement[bool]:
    """``column`` begins with ``prefix`` of ``length`` characters, compared as they are (no
    wildcards, case-sensitive on both dialects; SQLite's LIKE ignores case). Values or bound
    parameters, so a prepared statement can take the prefix and its length."""
    return func.substr(column, literal_column("1"), length) == prefix


def where_all(query: Select[Any], *conditions: ColumnElement[bool] | None) -> Select[Any]:
    for condition in conditions:
        if condition is not None:
            query = query.where(condition)
    return query


def page_in_memory(
    items: Sequence[Any], key: Callable[[Any], str], marker: str | None, max_items: int | None
) -> tuple[list[Any], str | None]:
    """:func:`page` for a short list already in memory (sorted here by ``key``)."""
    limit = max_items or MAX_ITEMS_DEFAULT
    ordered = sorted(items, key=key)
    if marker is not None:
        ordered = [item for item in ordered if key(item) > marker]
    if len(ordered) <= limit:
        return ordered, None
    return ordered[:limit], key(ordered[limit - 1])


def lock_row(tx: Connection, table: Any, row_id: str) -> None:
    """Hold the row until the transaction ends, so that check-then-write quotas hold under
    concurrency (PostgreSQL: SELECT ... FOR UPDATE; SQLite's BEGIN IMMEDIATE already serializes)."""
    from sqlalchemy import select

    tx.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())
