"""The batch writer of the audit trail: nothing submitted is lost, and flush() means committed."""

from __future__ import annotations

import gc
import json
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from ironkeep.app import Pipeline, RawRequest, _Call
from ironkeep.audit.lookup import record_texts
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


def _texts(store) -> list[str]:
    """Every record written (JSON text): a row holds one, or a run of them (one per line)."""
    with store.transaction(write=False) as tx:
        stored = tx.execute(select(schema.audit_events.c.record)).scalars()
        return [text for value in stored for text in record_texts(value)]


def _count(store) -> int:
    return len(_texts(store))


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
    """A batch the store refuses (here, the 30th record holds a lone surrogate, which no store can
    encode, past the first slice the writer built) is written again a record at a time: every
    other record is kept, the refused one is logged and left out, and flush() still returns."""
    writer = audit_trail.AuditWriter(store, batch=100, linger=60)
    rows = [audit_trail._event_row(_record(account, n)()) for n in range(40)]
    (event_id, *columns, text), names = rows[29]
    rows[29] = ((event_id, *columns, text.replace('"u29"', '"\ud800"')), names)
    for made in rows:
        writer.submit(lambda made=made: made)
    writer.flush()
    ids = {json.loads(text)["eventID"] for text in _texts(store)}
    assert ids == {row[0][0] for n, row in enumerate(rows) if n != 29} and _count(store) == 39


def test_a_callers_reads_of_one_second_share_a_row(store, account) -> None:
    """Records alike in every indexed column and name but the event id are written as one row
    (a run): its event id is the first of theirs, its text theirs one per line in id order; a
    record that differs (another operation) keeps a row of its own."""
    writer = audit_trail.AuditWriter(store, batch=100, linger=60)
    now = datetime(2026, 11, 30, 1, 2, 3, 500000, tzinfo=UTC)
    for n in range(5):
        writer.submit(
            lambda n=n: audit_trail.row_of(
                "iam", "GetUser", now, f"r{n}", account, True, None, None, {"UserName": f"u{n}"}, None
            )
        )
    writer.submit(
        lambda: audit_trail.row_of("iam", "ListUsers", now, "r9", account, True, None, None, {}, None)
    )
    writer.flush()
    with store.transaction(write=False) as tx:
        rows = tx.execute(
            select(
                schema.audit_events.c.event_id, schema.audit_events.c.event_name, schema.audit_events.c.record
            )
        ).all()
    assert sorted(name for _, name, _ in rows) == ["GetUser", "ListUsers"]
    [(first, _, stored)] = [row for row in rows if row[1] == "GetUser"]
    records = [json.loads(text) for text in record_texts(stored)]
    ids = [record["eventID"] for record in records]
    assert len(records) == 5 and ids == sorted(ids) and first == ids[0]
    assert sorted(record["requestID"] for record in records) == [f"r{n}" for n in range(5)]
    assert {record["eventTime"] for record in records} == {"2026-11-30T01:02:03Z"}


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
