"""The batch writer of the audit trail: nothing submitted is lost, and flush() means committed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from ironkeep.services import audit_trail
from ironkeep.store import schema


def _record(account: str, n: int) -> Any:
    return lambda: audit_trail.build(
        service="iam",
        operation="GetUser",
        now=datetime.now(UTC),
        request_id=f"r{n}",
        account_id=account,
        read_only=True,
        caller=None,
        access_key_id=None,
        parameters={"UserName": f"u{n}"},
        output=None,
    )


def _count(store) -> int:
    with store.transaction(write=False) as tx:
        return int(tx.execute(select(func.count()).select_from(schema.audit_events)).scalar_one())


def test_flush_returns_once_everything_before_it_is_committed(store, account) -> None:
    writer = audit_trail.AuditWriter(store, batch=100, linger=0.01)  # more than a batch at once
    for n in range(250):
        writer.submit(_record(account, n))
    writer.flush()
    assert _count(store) == 250
    writer.flush()  # nothing pending: returns at once
    writer.submit(_record(account, 250))
    writer.flush()
    assert _count(store) == 251


def test_records_from_many_threads_are_all_written(store, account) -> None:
    writer = audit_trail.AuditWriter(store, linger=0.005)

    def submit_many(start: int) -> None:
        for n in range(start, start + 300):
            writer.submit(_record(account, n))

    threads = [threading.Thread(target=submit_many, args=(i * 300,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()
    assert _count(store) == 1200


def test_a_record_after_an_idle_spell_is_written_without_a_flush(store, account) -> None:
    """The writer sleeps when there is nothing to write; the next record wakes it."""
    writer = audit_trail.AuditWriter(store, linger=0.005)
    writer.submit(_record(account, 1))
    writer.flush()
    threading.Event().wait(0.1)
    writer.submit(_record(account, 2))
    deadline = datetime.now(UTC).timestamp() + 5
    while _count(store) < 2 and datetime.now(UTC).timestamp() < deadline:
        threading.Event().wait(0.01)
    assert _count(store) == 2
