"""``ironkeep audit export``: the audit trail of a time range, straight from the store.

No server is needed: it opens the database ``ironkeep serve`` uses (the same ``--data-dir`` /
``--database-url`` flags and ``IRONKEEP_*`` variables) read-only, and writes the records oldest
first, either as JSON Lines (``--format jsonl``, one record a line, the default) or as a CloudTrail
log file (``--format cloudtrail``: ``{"Records": [...]}``).

``--start`` and ``--end`` are ISO 8601 times, both inclusive (``2026-01-31`` alone is midnight UTC;
a time without an offset is UTC). ``--account-id`` keeps one account's events. ``--out FILE``
writes the file atomically with mode 0600 (records hold no secrets, but they do hold user names,
IP addresses and request parameters); without it, records go to standard output.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select

FORMATS = ("jsonl", "cloudtrail")


class ExportError(Exception):
    """A problem the operator can fix (a bad time, an uninitialised database): printed, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``ironkeep audit export``."""
    parser.add_argument("--data-dir", default=None, help="data directory (default ./ironkeep-data)")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL; default SQLite in the data dir")
    parser.add_argument("--start", default=None, help="first time to include, ISO 8601 (default: the oldest)")
    parser.add_argument("--end", default=None, help="last time to include, ISO 8601 (default: now)")
    parser.add_argument(
        "--account-id", default=None, help="only this account's events (default: every account)"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="jsonl",
        help='jsonl: one record a line; cloudtrail: {"Records": [...]}',
    )
    parser.add_argument("--out", default=None, help="file to write (mode 0600); default standard output")


def build_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``audit export`` to ``ironkeep``'s sub-commands; return the ``audit`` parser."""
    audit = subparsers.add_parser("audit", help="read the audit trail (CloudTrail records) from the store")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    export = commands.add_parser(
        "export", help="write the records of a time range as JSON Lines or a CloudTrail file"
    )
    add_arguments(export)
    export.set_defaults(func=run)
    return audit


def main(argv: Sequence[str] | None = None) -> int:
    """``ironkeep audit export`` on its own: ``argv`` holds the export's flags."""
    parser = argparse.ArgumentParser(prog="ironkeep audit export", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def parse_time(text: str, flag: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"{flag} must be an ISO 8601 time such as 2026-01-31T12:00:00Z, not {text!r}"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    from ironkeep.config import ConfigError

    try:
        start = parse_time(args.start, "--start") if args.start else None
        end = parse_time(args.end, "--end") if args.end else None
        if start is not None and end is not None and start > end:
            raise ExportError("--start must be earlier than or equal to --end")
        store = _open_store(args)
        try:
            count = _export(store, start, end, args.account_id, args.format, args.out)
        finally:
            store.dispose()
    except (ExportError, ConfigError) as error:
        print(f"ironkeep: {error}", file=sys.stderr)
        return 2
    if args.out:
        print(f"ironkeep: wrote {count} records to {args.out}", file=sys.stderr)
    return 0


def _open_store(args: argparse.Namespace) -> Any:
    """The store, checked to be at the newest migration (it is read, never migrated here)."""
    from alembic.script import ScriptDirectory

    from ironkeep.config import load_settings
    from ironkeep.store import Store
    from ironkeep.store.database import MIGRATIONS

    settings = load_settings(args)
    if settings.is_sqlite and not _sqlite_file(settings.database_url).exists():
        raise ExportError(f"no database at {settings.database_url}: start `ironkeep serve` once first")
    store = Store.open(settings.database_url, schema=settings.database_schema, pool_size=1)
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    current = store.revision()
    if current != head:
        store.dispose()
        if current is None:
            raise ExportError(
                f"no Ironkeep database at {settings.database_url}: start `ironkeep serve` once first"
            )
        raise ExportError(
            f"the database is at revision {current}, not {head}: start `ironkeep serve` once to migrate it"
        )
    return store


def _sqlite_file(url: str) -> Path:
    return Path(url.split("///", 1)[1].split("?", 1)[0]) if "///" in url else Path("")


def records(
    store: Any, start: datetime | None, end: datetime | None, account_id: str | None = None
) -> Iterator[str]:
    """The records (JSON text, as stored) of the range, oldest first (by time, then event id),
    streamed. A row holds a record or a run of them, all of its second (see
    :mod:`ironkeep.services.cloudtrail_lookup`): a second's records are sorted before they go."""
    from ironkeep.audit.lookup import record_event_id, record_texts
    from ironkeep.store import schema as t

    events = t.audit_events
    stmt = select(events.c.event_time, events.c.record)
    if account_id:
        stmt = stmt.where(events.c.account_id == account_id)
    if start is not None:
        stmt = stmt.where(events.c.event_time >= start)
    if end is not None:
        stmt = stmt.where(events.c.event_time <= end)
    stmt = stmt.order_by(events.c.event_time, events.c.event_id)
    second: Any = None
    held: list[tuple[str, str]] = []  # (event id, text) of the second being read
    with store.transaction(write=False) as tx:
        for when, stored in tx.execution_options(yield_per=1000).execute(stmt):
            if when != second:
                yield from _in_order(held)
                held, second = [], when
            held += [(record_event_id(text), text) for text in record_texts(stored)]
    yield from _in_order(held)


def _in_order(held: list[tuple[str, str]]) -> Iterator[str]:
    held.sort(key=lambda item: item[0])
    return (text for _, text in held)


def write_records(lines: Iterator[str], out: IO[str], fmt: str) -> int:
    """Write records (JSON text) to ``out`` in ``fmt``; return how many."""
    count = 0
    if fmt == "cloudtrail":
        out.write('{"Records":[')
        for text in lines:
            out.write(("," if count else "") + "\n" + text)
            count += 1
        out.write("\n]}\n")
        return count
    for text in lines:
        out.write(text + "\n")
        count += 1
    return count


def _export(
    store: Any, start: datetime | None, end: datetime | None, account: str | None, fmt: str, out: str | None
) -> int:
    lines = records(store, start, end, account)
    if not out:
        count = write_records(lines, sys.stdout, fmt)
        sys.stdout.flush()
        return count
    path = Path(out)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            count = write_records(lines, handle, fmt)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return count


if __name__ == "__main__":
    sys.exit(main())
