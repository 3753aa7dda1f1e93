"""The store: SQLAlchemy Core on SQLite (embedded default) or PostgreSQL.

``Store.open(url, schema=None)`` connects; ``store.migrate()`` brings the schema up to date with
Alembic (one history for both dialects); ``store.transaction(write=...)`` is one database
transaction per API call, committed on success and rolled back on any exception. Dialect
differences live here: SQLite runs in WAL mode with foreign keys on, and write transactions start
with ``BEGIN IMMEDIATE`` so that two writers queue instead of failing; PostgreSQL can keep every
table in a schema of its own (``search_path``), so that test runs never see each other's rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from ironkeep.errors import EntityAlreadyExists

MIGRATIONS = Path(__file__).parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Store:
    def __init__(self, engine: Engine, url: str, schema: str | None) -> None:
        self.engine = engine
        self.url = url
        self.schema = schema

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, pool_size: int = 16) -> Store:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        elif url.startswith("postgresql"):
            connect_args: dict[str, Any] = {}
            if schema:
                if not _SCHEMA_NAME.match(schema):
                    raise ValueError(f"invalid PostgreSQL schema name {schema!r}")
                connect_args["options"] = f"-csearch_path={schema}"
            engine = create_engine(
                url, connect_args=connect_args, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            if schema:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        else:
            raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql+psycopg://...")
        return cls(engine, url, schema)

    def migrate(self) -> None:
        """Apply every Alembic migration not yet applied."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # one migrator at a time when several nodes start together
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(774411)")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """One transaction; an IntegrityError on a unique name becomes EntityAlreadyExists."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(ironkeep_write=write)
            try:
                with conn.begin():
                    yield conn
            except IntegrityError as error:
                raise EntityAlreadyExists(f"Entity already exists: {_constraint(error)}") from error

    def dispose(self) -> None:
        self.engine.dispose()


def _constraint(error: IntegrityError) -> str:
    return str(error.orig).splitlines()[0] if error.orig else "duplicate"


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=NullPool if not path or path == ":memory:" else None)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("ironkeep_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
