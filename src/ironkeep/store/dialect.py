"""Everything that differs between SQLite and PostgreSQL, in one place.

- Engines: SQLite in WAL mode with foreign keys on and a busy timeout; write transactions begin
  with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of one failing at its
  first write. PostgreSQL through psycopg 3 with a connection pool, and optionally every table in
  a schema of its own (``search_path`` set on each connection).
- Times: SQLite has no time zone type; :class:`UTCDateTime` stores UTC and always returns aware
  UTC datetimes, on both.
- Errors: which ``IntegrityError`` is a unique-key violation.
- Order: names sort by code point on both (PostgreSQL's collation could otherwise differ).
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
SQLITE_BUSY_TIMEOUT_MS = 30_000
_WRITE_OPTION = "ironkeep_write"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp kept in UTC: aware values are converted on the way in, and values come back
    aware (UTC) on both dialects. Naive values are taken to be UTC already."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        """:meth:`process_result_value` after the dialect's own conversion, in one function: a
        page of ListUsers converts two thousand of these, and the generic chain costs a call more
        per value."""
        convert = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if convert is not None:
                value = convert(value)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

        return process


def normalize_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create(url: str, *, schema: str | None, pool_size: int) -> Engine:
    """An engine for ``url`` with Ironkeep's connection settings."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        if schema:
            raise ValueError("a schema applies to PostgreSQL only")
        return _sqlite(url)
    if url.startswith("postgresql"):
        return _postgresql(url, schema, pool_size)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql+psycopg://...")


def _sqlite(url: str) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    memory = not path or path == ":memory:" or "mode=memory" in path
    if memory:
        # one connection shared by every thread: the database lives as long as the engine
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(path.split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN handling is off: see _on_begin
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        driver = conn.connection.driver_connection
        if driver.in_transaction:  # type: ignore[union-attr]
            return  # a pinned read transaction began on the driver's connection: join it
        write = conn.get_execution_options().get(_WRITE_OPTION, True)
        # on the driver's connection directly: a statement through SQLAlchemy costs more than BEGIN
        if write:
            begin_immediate(driver)
        else:
            driver.execute("BEGIN")  # type: ignore[union-attr]

    return engine


def begin_immediate(driver: Any, timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in short steps.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... then 50 and 100 ms between tries, so a writer
    queued behind others (threads, or the workers of ``serve --workers``) sleeps long after the
    lock was freed. Here the connection's handler gives up after a millisecond and the wait goes
    on in steps of at most 2 ms, up to the same overall timeout."""
    driver.execute(f"PRAGMA busy_timeout={_BEGIN_BUSY_MS}")
    try:
        deadline = time.monotonic() + timeout
        pause = 0.0002
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
    finally:
        driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


_BEGIN_BUSY_MS = 1


def _postgresql(url: str, schema: str | None, pool_size: int) -> Engine:
    connect_args: dict[str, Any] = {}
    if schema:
        if not SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid PostgreSQL schema name {schema!r}")
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(
        url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )
    if schema:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return engine


def write_options(write: bool) -> dict[str, Any]:
    """Execution options for a transaction; SQLite takes the write lock at BEGIN for writers."""
    return {_WRITE_OPTION: write}


def lock_migrations(conn: Connection) -> None:
    """Serialize migrators when several nodes start together (SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(774411)")


def is_unique_violation(error: IntegrityError) -> bool:
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == "23505")
    text = str(orig)
    return "UNIQUE constraint failed" in text or "PRIMARY KEY must be unique" in text


def violated_constraint(error: IntegrityError) -> str:
    """The name of the violated constraint (PostgreSQL) or its columns (SQLite), for messages."""
    diag = getattr(error.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    return str(error.orig).splitlines()[0] if error.orig else "unique key"


def sortable(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` compared and ordered by code point, whatever the database's collation."""
    if conn.dialect.name == "postgresql":
        return column.collate("C")
    return column
