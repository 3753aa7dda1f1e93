"""The database handle: open, migrate, and one transaction per API call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from ironkeep.errors import EntityAlreadyExists
from ironkeep.store import dialect
from ironkeep.store.prepared import SnapshotReads

MIGRATIONS = Path(__file__).parent / "migrations"


class Store:
    """SQLAlchemy Core over SQLite (the embedded default) or PostgreSQL.

    Usage::

        store = Store.open("sqlite:////var/lib/ironkeep/ironkeep.db")
        store.migrate()
        with store.transaction() as tx:
            bob = users.get(tx, "123456789012", "bob")
    """

    def __init__(self, engine: Engine, url: str, schema: str | None) -> None:
        self.engine = engine
        self.url = url
        self.schema = schema
        self._pinned = threading.local()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @classmethod
    def open(cls, url: str, *, schema: str | None = None, pool_size: int = 16) -> Store:
        """Connect to ``sqlite:///PATH`` or ``postgresql+psycopg://...`` (``postgresql://`` works
        too). ``schema`` (PostgreSQL only) keeps every table in that schema, created if missing."""
        url = dialect.normalize_url(url)
        return cls(dialect.create(url, schema=schema, pool_size=pool_size), url, schema)

    def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (one history for both dialects)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            dialect.lock_migrations(conn)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def transaction(self, *, write: bool = True, pinned: bool = False) -> AbstractContextManager[Connection]:
        """One database transaction: committed when the block ends, rolled back on any exception.

        ``write=False`` lets SQLite readers run beside a writer. A unique-key violation that no
        repository function translated becomes EntityAlreadyExists.

        ``pinned=True`` (read transactions only) runs on a connection this thread keeps between
        calls instead of one taken from the pool and given back: checking a connection out and in
        costs several times what a short read does. For a thread that serves many short reads
        (the server's event loop on SQLite); any other thread would hold a pooled connection.
        On a database file, its prepared statements' rows are remembered between transactions
        while nothing is committed (:class:`SnapshotReads`): a steady stream of reads of the same
        principals and entities then costs no queries.
        """
        if pinned and not write and self.dialect == "sqlite":
            conn = self._pinned_connection()
            return _PinnedSQLiteRead(conn, conn.connection.driver_connection, self._pinned.reads)
        return self._transaction(write, pinned)

    @contextmanager
    def _transaction(self, write: bool, pinned: bool) -> Iterator[Connection]:
        if pinned and not write:
            with _translated(), self._pinned_connection().begin():
                yield self._pinned.conn
            return
        with self.engine.connect() as conn:
            conn = conn.execution_options(**dialect.write_options(write))
            with _translated(), conn.begin():
                yield conn

    def _pinned_connection(self) -> Connection:
        conn: Connection | None = getattr(self._pinned, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect().execution_options(**dialect.write_options(False))
            self._pinned.conn = conn
            # a new connection: nothing read on it yet (and nothing kept on in-memory SQLite's one
            # connection, which every thread writes through)
            shared = isinstance(self.engine.pool, StaticPool)
            self._pinned.reads = None if shared else SnapshotReads()
        return conn

    def dispose(self) -> None:
        conn: Connection | None = getattr(self._pinned, "conn", None)
        if conn is not None:
            conn.close()
            self._pinned.conn = None
        self.engine.dispose()


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except IntegrityError as error:
        translated = _already_exists(error)
        if translated is None:
            raise
        raise translated from error


def _already_exists(error: IntegrityError) -> EntityAlreadyExists | None:
    """A unique-key violation no repository function translated, as EntityAlreadyExists (None for
    any other integrity error: it goes on as it is)."""
    if not dialect.is_unique_violation(error):
        return None
    return EntityAlreadyExists(f"Entity already exists: {dialect.violated_constraint(error)}")


class _PinnedSQLiteRead:
    """A read transaction begun and ended on the driver's connection (SQLAlchemy's own
    begin/commit, and a generator-based context manager, cost more than the reads): statements
    through SQLAlchemy still work, its transaction joining the open one (see dialect._on_begin),
    and end with it.

    With ``reads``, the transaction is a :class:`SnapshotReads` window: its first statement reads
    ``PRAGMA data_version``, which takes the transaction's snapshot and says whether any other
    connection committed since the last one (the connection's own writes show in
    ``total_changes``)."""

    __slots__ = ("conn", "driver", "reads")

    def __init__(self, conn: Connection, driver: Any, reads: SnapshotReads | None = None) -> None:
        self.conn = conn
        self.driver = driver
        self.reads = reads

    def __enter__(self) -> Connection:
        driver = self.driver
        driver.execute("BEGIN")
        if self.reads is not None:
            version = driver.execute("PRAGMA data_version").fetchone()[0]
            changes = driver.total_changes
            self.reads.open(self.conn, (version, changes), lambda: driver.total_changes == changes)
        return self.conn

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.conn
        if self.reads is not None:
            self.reads.close()
        if kind is None:
            if conn.in_transaction():
                conn.commit()
            else:
                self.driver.commit()
            return
        if conn.in_transaction():
            conn.rollback()
        else:
            self.driver.rollback()
        if isinstance(error, IntegrityError):
            translated = _already_exists(error)
            if translated is not None:
                raise translated from error
