"""SELECTs on the hot path, compiled once per dialect and run on the transaction's own connection.

SQLAlchemy's per-execution machinery (events, the compiled cache lookup, the result proxy) costs
several times what SQLite takes to answer an indexed lookup. A :class:`Prepared` statement keeps
what SQLAlchemy compiled (the SQL text, the order of its parameters, each column's result
processor) and runs it with the DBAPI cursor of the connection the transaction already holds, so
it sees exactly what the transaction sees. Rows are named tuples with the same attribute names
and the same Python values (aware UTC datetimes included) as SQLAlchemy's rows.

Only plain SELECTs with scalar bind parameters belong here: no ``IN`` lists, no bind processing.
:class:`PreparedInsert` does the same for a batch of rows (the audit trail's inserts).

Inside a :class:`SnapshotReads` window (the SQLite store's pinned read transactions), a statement's
rows for the same parameters are taken from memory while the database is unchanged: the window
opens only once SQLite says nothing was committed since the rows were read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, Table, bindparam, exists, insert, select


class _Compiled(NamedTuple):
    sql: str
    positions: tuple[str, ...] | None  # parameter names in order (qmark), or None (named)
    row: Any  # the namedtuple class
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]


def _row_class(names: list[str]) -> Any:
    base = namedtuple("Row", names, rename=True)  # type: ignore[misc]

    class Row(base):
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:  # as SQLAlchemy's Row offers it
            return self._asdict()

    return Row


class Prepared:
    """``Prepared(select(...).where(col == bindparam("name")))``, then ``.first(tx, {"name": v})``.

    ``remember=False``: never kept in a :class:`SnapshotReads` window (a statement that can return
    many rows, such as a page of ListUsers: a window counts the statements it keeps, not rows)."""

    __slots__ = ("_by_dialect", "remember", "statement")

    def __init__(self, statement: Select[Any], *, remember: bool = True) -> None:
        self.statement = statement
        self.remember = remember
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, tx: Connection) -> _Compiled:
        dialect = tx.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            result = self.statement.compile(dialect=dialect)
            if result._bind_processors:  # pragma: no cover - a programming error, caught at first use
                raise ValueError("a prepared statement takes no parameters that need processing")
            columns = list(self.statement.selected_columns)
            processors = []
            for index, column in enumerate(columns):
                process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    processors.append((index, process))
            row = _row_class([str(column.key) for column in columns])
            positions = tuple(result.positiontup) if result.positiontup is not None else None
            compiled = _Compiled(result.string, positions, row, tuple(processors))
            self._by_dialect[dialect.name] = compiled
        return compiled

    def _rows(self, tx: Connection, params: dict[str, Any], one: bool) -> list[Any]:
        compiled = self._compiled(tx)
        args: Any = params if compiled.positions is None else [params[n] for n in compiled.positions]
        window = _window.active
        if (
            window is not None
            and window[0] is tx
            and compiled.positions is not None
            and self.remember
            and window[1]()
        ):
            remembered = window[2]
            key = (self, one, *args)
            rows = remembered.get(key)
            if rows is None:
                rows = remembered[key] = tuple(self._read(tx, compiled, args, one))
            return list(rows)
        return self._read(tx, compiled, args, one)

    def _read(self, tx: Connection, compiled: _Compiled, args: Any, one: bool) -> list[Any]:
        cursor = tx.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
            raw = [cursor.fetchone()] if one else cursor.fetchall()
        finally:
            cursor.close()
        make, processors = compiled.row, compiled.processors
        out = []
        for values in raw:
            if values is None:
                continue
            if processors:
                values = list(values)
                for index, process in processors:
                    values[index] = process(values[index])
            out.append(make._make(values))
        return out

    def first(self, tx: Connection, params: dict[str, Any]) -> Any | None:
        rows = self._rows(tx, params, one=True)
        return rows[0] if rows else None

    def all(self, tx: Connection, params: dict[str, Any]) -> list[Any]:
        return self._rows(tx, params, one=False)

    def scalar(self, tx: Connection, params: dict[str, Any]) -> Any | None:
        row = self.first(tx, params)
        return row[0] if row is not None else None


def any_row(tx: Connection, *conditions: tuple[Any, Any]) -> bool:
    """Whether a row has each ``(column, value)`` of ``conditions`` (columns of one table): an
    ``EXISTS`` prepared once per set of columns. For checks a write makes on every call, such as
    DeleteUser's refusal while the user still owns keys, devices or policies."""
    columns = tuple(column for column, _ in conditions)
    return bool(_exists(columns).scalar(tx, {f"v{i}": value for i, (_, value) in enumerate(conditions)}))


@lru_cache(maxsize=256)
def _exists(columns: tuple[Any, ...]) -> Prepared:
    return Prepared(
        select(exists().where(*(column == bindparam(f"v{i}") for i, column in enumerate(columns))))
    )


class SnapshotReads:
    """The rows prepared statements read on one connection (the SQLite store's pinned read
    connection), kept for as long as the database is unchanged.

    ``open(tx, version, unchanged)`` starts a window in which :class:`Prepared` statements run on
    ``tx`` (and this thread) answer from memory what they read before, as long as ``unchanged()``
    says the transaction itself wrote nothing; ``version`` says what the database is: the rows
    are forgotten whenever it differs from the last window's. For SQLite, ``PRAGMA data_version``
    (which moves whenever another connection commits; read inside the transaction, it describes
    the transaction's snapshot) with the connection's own ``total_changes`` (which moves with its
    own writes, which ``data_version`` does not count). ``close()`` ends the window, and
    forgets the rows if the transaction wrote. Rows are immutable named tuples; each call gets a
    list of its own.
    """

    __slots__ = ("limit", "rows", "unchanged", "version")

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self.version: Any = None
        self.rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.unchanged: Callable[[], bool] = lambda: False

    def open(self, tx: Connection, version: Any, unchanged: Callable[[], bool]) -> None:
        if version != self.version or len(self.rows) > self.limit:
            self.rows = {}
            self.version = version
        self.unchanged = unchanged
        _window.active = (tx, unchanged, self.rows)

    def close(self) -> None:
        _window.active = None
        if not self.unchanged():
            self.rows = {}
            self.version = None


class _Window(threading.local):
    active: tuple[Connection, Callable[[], bool], dict[tuple[Any, ...], tuple[Any, ...]]] | None = None


_window = _Window()


class PreparedInsert:
    """``INSERT INTO table (columns...)`` compiled once per dialect, run on the transaction's own
    connection; values go through each column's bind processing (times, booleans) as SQLAlchemy
    would. ``insert_many(tx, [(v1, v2, ...), ...])`` in ``columns`` order.

    On SQLite, a batch goes in as a few multi-row ``INSERT ... VALUES (...), (...), ...``
    statements rather than one execution per row: the driver lets go of the interpreter lock
    around every statement it steps, and in a server whose event loop holds the lock most of the
    time, each row's step then costs a hand-over of the lock and a context switch both ways (the
    audit trail's writer thread made two or three per record; with a statement per chunk of rows,
    a few per batch). Chunks are powers of two, so a table needs a handful of statement texts
    (which the driver keeps compiled), within SQLite's limit on bound variables. PostgreSQL's
    driver takes the batch with ``executemany``."""

    __slots__ = ("_by_dialect", "columns", "table")

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._by_dialect: dict[str, tuple[str, bool, tuple[tuple[int, Callable[[Any], Any]], ...]]] = {}

    def _compiled(self, tx: Connection) -> tuple[str, bool, tuple[tuple[int, Callable[[Any], Any]], ...]]:
        dialect = tx.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            statement = insert(self.table).values({name: bindparam(name) for name in self.columns})
            result = statement.compile(dialect=dialect)
            positional = result.positiontup is not None
            if (
                result.positiontup is not None and tuple(result.positiontup) != self.columns
            ):  # pragma: no cover
                raise ValueError("unexpected parameter order")
            processors = []
            for index, name in enumerate(self.columns):
                column_type = self.table.c[name].type
                process = column_type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors.append((index, process))
            compiled = (result.string, positional, tuple(processors))
            self._by_dialect[dialect.name] = compiled
        return compiled

    def insert_many(self, tx: Connection, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        sql, positional, processors = self._compiled(tx)
        if processors:
            rows = _processed(rows, processors)
        driver = tx.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            if positional and tx.dialect.name == "sqlite":
                most = _rows_per_statement(driver, len(self.columns))
                start = 0
                while start < len(rows):
                    size = 1 << (min(most, len(rows) - start).bit_length() - 1)  # a power of two
                    chunk = rows[start : start + size]
                    cursor.execute(_multi_row(sql, size), [value for row in chunk for value in row])
                    start += size
                return
            args: Any = rows if positional else [dict(zip(self.columns, row, strict=True)) for row in rows]
            cursor.executemany(sql, args)
        finally:
            cursor.close()


_MOST_ROWS = 256  # rows per multi-row INSERT at most (a power of two)


def _rows_per_statement(driver: Any, columns: int) -> int:
    """How many rows of ``columns`` values one statement may bind on this SQLite connection."""
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(_MOST_ROWS, limit // columns))


@lru_cache(maxsize=256)
def _multi_row(sql: str, rows: int) -> str:
    """``INSERT INTO t (a, b) VALUES (?, ?)`` for ``rows`` rows: ``... VALUES (?, ?), (?, ?)``."""
    head, values = sql.rsplit(" VALUES ", 1)
    return f"{head} VALUES {', '.join([values] * rows)}"


def _processed(
    rows: Sequence[Sequence[Any]], processors: tuple[tuple[int, Callable[[Any], Any]], ...]
) -> list[list[Any]]:
    """``rows`` with each processed column bound. A value that is the very object of the row
    before is bound once: the rows of a batch often share one (the audit trail's records of one
    second share their ``event_time``), and binding a time costs more than the rest of a row.
    Only the same object counts, never an equal one: within one call, the same object always
    binds to the same value."""
    last: list[Any] = [_NOTHING] * len(processors)
    bound: list[Any] = [None] * len(processors)
    processed = []
    for row in rows:
        values = list(row)
        for slot, (index, process) in enumerate(processors):
            value = values[index]
            if value is not last[slot]:
                last[slot] = value
                bound[slot] = process(value)
            values[index] = bound[slot]
        processed.append(values)
    return processed


_NOTHING = object()
