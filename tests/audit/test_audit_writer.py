"""The batch writer of the audit trail: nothing submitted is lost, and flush() means committed."""

from __future__ import annotations

import gc
import json
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from ironkeep.app import Pipeline, RawRequest, _Call
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


def test_a_full_batch_is_written_without_waiting_out_the_linger(store, account) -> None:
    """Under load the writer commits as soon as a batch is waiting, not a linger later."""
    writer = audit_trail.AuditWriter(store, batch=10, linger=60)
    for n in range(10):
        writer.submit(_record(account, n))
    deadline = time.monotonic() + 10
    while _count(store) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _count(store) == 10


def test_flush_does_not_wait_out_the_linger(store, account) -> None:
    writer = audit_trail.AuditWriter(store, linger=60)
    writer.submit(_record(account, 1))
    started = time.monotonic()
    writer.flush(timeout=30)
    assert time.monotonic() - started < 10
    assert _count(store) == 1


def test_a_record_the_store_refuses_costs_only_itself(store, account) -> None:
    """A batch the store refuses (here, the 30th record repeats the 20th's event id, past the first
    slice the writer built and inserted) is written again a record at a time: every other record is
    kept, the refused one is logged and left out, and flush() still returns."""
    writer = audit_trail.AuditWriter(store, batch=100, linger=60)
    rows = [audit_trail._event_row(_record(account, n)()) for n in range(40)]
    (_, *rest), names = rows[19]
    rows[29] = ((rows[19][0][0], *rest), [(rows[19][0][0], kind, value) for _, kind, value in names])
    for made in rows:
        writer.submit(lambda made=made: made)
    writer.flush()
    with store.transaction(write=False) as tx:
        ids = set(tx.execute(select(schema.audit_events.c.event_id)).scalars())
    assert ids == {row[0][0] for row in rows} and _count(store) == 39


def test_a_reads_pending_record_holds_neither_the_request_nor_the_output() -> None:
    """A read's record waits for its batch holding only what the record is made of: the request's
    headers and body and the handler's output (which a read's record does not log) are let go."""
    raw = RawRequest("POST", "/", "", [("host", "x")], b"Action=GetUser", "10.0.0.1", "agent/1", False)
    call = _Call(request_id="r1", now=datetime.now(UTC), operation="GetUser", read_only=True)
    call.params = {"UserName": "alice"}
    output = {"User": {"UserName": "alice", "Arn": "arn:aws:iam::123456789012:user/alice"}}
    pipeline = SimpleNamespace(default_account="123456789012")
    pending = Pipeline._pending_record(pipeline, raw, call, output=output)  # type: ignore[arg-type]
    held = gc.get_referents(pending) + gc.get_referents(*gc.get_referents(pending))
    assert not any(item is raw or item is output or item is raw.body for item in held)
    record = _record_of(pending())
    assert record["requestParameters"] == {"userName": "alice"}
    assert record["responseElements"] is None
    assert (record["sourceIPAddress"], record["userAgent"]) == ("10.0.0.1", "agent/1")
    # a change's record logs the output: it is kept
    call.read_only, call.operation = False, "CreateUser"
    pending = Pipeline._pending_record(pipeline, raw, call, output=output)  # type: ignore[arg-type]
    assert _record_of(pending())["responseElements"]["user"]["userName"] == "alice"


def _record_of(rows: Any) -> dict[str, Any]:
    """The record in a pending record's rows (its audit_events row's last column)."""
    event, _names = rows
    return json.loads(event[-1])
