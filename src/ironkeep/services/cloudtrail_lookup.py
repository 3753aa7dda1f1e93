"""CloudTrail ``LookupEvents`` over the audit trail in the store (``audit_events``).

The query semantics are :mod:`ironkeep.audit.lookup`'s (its :func:`~ironkeep.audit.lookup.lookup_events`
is the in-memory reference); this module turns a :class:`~ironkeep.audit.lookup.LookupQuery` into
SQL over the caller's account's rows. A row holds one record, or a *run*: records that share every
column and name but the event id (a caller's repeated reads within a second), under the first id.

* ``EventName``, ``EventSource``, ``AccessKeyId`` and ``ReadOnly`` compare columns of
  ``audit_events``; ``Username``, ``ResourceType`` and ``ResourceName`` look the value up in
  ``audit_event_names`` (every name a record answers to, written with it); ``EventId`` finds the
  row of that id, or the run of the id's second that holds it;
* ``StartTime``/``EndTime`` are inclusive; ``EventCategory=insight`` finds nothing (Ironkeep
  records management events only);
* newest first (``event_time DESC, event_id DESC``), strictly after the ``NextToken``'s cursor:
  rows are read until a second older than ``MaxResults + 1`` records begins (the extra record
  says whether a ``NextToken`` is due), and their records sorted.

Records of reads and failed calls reach the store through the pipeline's batch writer, so the
handler flushes it and then reads in a transaction of its own, which sees them (the call's own
SQLite transaction took its snapshot when the caller was authenticated).

``NextToken`` is signed with :func:`token_key`: ``services.lookup_token_key``, which the server
derives from the master key with :func:`derive_token_key`, so tokens survive restarts and work on
every node.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Select, and_, false, or_, select

from ironkeep.audit.lookup import (
    Cursor,
    LookupQuery,
    lookup_response,
    parse_lookup,
    record_event_id,
    record_texts,
)
from ironkeep.audit.records import event_id_second
from ironkeep.services.audit_trail import trail_reader
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

log = logging.getLogger("ironkeep.audit")

_EVENTS = t.audit_events
_NAMES = t.audit_event_names
_COLUMNS = {
    "EventName": _EVENTS.c.event_name,
    "EventSource": _EVENTS.c.event_source,
    "AccessKeyId": _EVENTS.c.access_key_id,
}
_NAME_KINDS = {"Username": "username", "ResourceType": "resource_type", "ResourceName": "resource_name"}


def derive_token_key(master_key: bytes) -> bytes:
    """The ``NextToken`` signing key for a master key: stable across restarts and nodes, and
    useless for anything else (a one-way, labelled derivation)."""
    return hashlib.sha256(b"ironkeep lookup-events tokens\0" + master_key).digest()


def token_key(services: Any) -> bytes:
    """The key ``NextToken`` is signed with, set by the server (see the module docstring)."""
    key: bytes = services.lookup_token_key
    return key


def lookup_statement(
    account_id: str, query: LookupQuery, limit: int, before: tuple[datetime, str] | None = None
) -> Select[Any]:
    """The SQL of up to ``limit`` rows (event time, event id, records) of ``account_id`` that hold
    the records matching ``query``, newest first, after ``query.after`` and after ``before`` (the
    last row read). A row is a record or a run of them (:func:`ironkeep.audit.lookup.record_texts`),
    which share every column but the event id: the row has the first of theirs. (An ``EventId``
    is looked up by :func:`event_statement`.)"""
    e = _EVENTS.c
    stmt = select(e.event_time, e.event_id, e.record).where(e.account_id == account_id)
    if query.event_category is not None:  # Insights events: Ironkeep has none
        stmt = stmt.where(false())
    if query.start_time is not None:
        stmt = stmt.where(e.event_time >= query.start_time)
    if query.end_time is not None:
        stmt = stmt.where(e.event_time <= query.end_time)
    key, value = query.attribute_key, query.attribute_value
    if key is not None and value is not None:
        if key in _COLUMNS:
            stmt = stmt.where(_COLUMNS[key] == value)
        elif key == "ReadOnly":
            wanted = value.lower()
            stmt = stmt.where(e.read_only == (wanted == "true") if wanted in ("true", "false") else false())
        else:
            names = select(_NAMES.c.event_id).where(
                _NAMES.c.kind == _NAME_KINDS[key], _NAMES.c.value == value
            )
            stmt = stmt.where(e.event_id.in_(names))
    after = query.after
    for point in ((after.event_time, after.event_id) if after is not None else None, before):
        # a row whose first record is after the point holds only records after it
        if point is not None:
            when, event_id = point
            stmt = stmt.where(or_(e.event_time < when, and_(e.event_time == when, e.event_id < event_id)))
    return stmt.order_by(e.event_time.desc(), e.event_id.desc()).limit(limit)


def event_statement(account_id: str, event_id: str) -> Select[Any]:
    """The SQL of the rows of ``account_id`` that may hold the record ``event_id`` (a few at
    most, in no order): the row of that id, or a run of the id's second
    (:func:`ironkeep.audit.records.event_id_second`) whose text holds it. Nothing else narrows it
    in SQL, so that SQLite looks each of the two up in its own index."""
    e = _EVENTS.c
    holds = e.event_id == event_id
    second = event_id_second(event_id)
    if second is not None:  # an id the trail makes: it may be in a run
        in_run = and_(
            e.event_time == second,
            e.event_id < event_id,
            e.record.like(f'%"eventID":"{event_id}"%'),  # hex digits and dashes only
        )
        holds = or_(holds, in_run)
    return select(e.event_time, e.event_id, e.record).where(e.account_id == account_id, holds)


def find_records(tx: Connection, account_id: str, query: LookupQuery) -> list[dict[str, Any]]:
    """The records of one page (up to ``max_results + 1``), parsed, in order: rows are read
    newest first until a second older than the page's records begins; then the records of those
    rows (a run's interleave with others of its second) are sorted by time and event id."""
    want = query.max_results + 1
    if query.attribute_key == "EventId" and query.attribute_value is not None:
        return _event(tx, account_id, query, query.attribute_value)
    after = query.after
    found: list[tuple[datetime, str, str]] = []  # (time, event id, text) of the candidates
    second = None
    before = None
    limit = min(want, _FIRST_ROWS)
    while True:
        rows = tx.execute(lookup_statement(account_id, query, limit, before)).all()
        for when, _, stored in rows:
            if when != second:
                if len(found) >= want:  # every later row is older than all of these
                    return _newest(found, want)
                second = when
            for text in record_texts(stored):
                event_id = record_event_id(text)  # only the page's records are parsed
                if _unseen(after, when, event_id):
                    found.append((when, event_id, text))
        if len(rows) < limit:
            return _newest(found, want)
        before = (rows[-1][0], rows[-1][1])
        limit = want


# rows read first: a run may hold hundreds of records, enough for a page, and its text is long
_FIRST_ROWS = 8


def _event(tx: Connection, account_id: str, query: LookupQuery, event_id: str) -> list[dict[str, Any]]:
    """The record ``event_id`` as a page, if the query's other terms admit it."""
    if query.event_category is not None:  # Insights events: Ironkeep has none
        return []
    after = query.after
    found = []
    for when, _, stored in tx.execute(event_statement(account_id, event_id)):
        if (query.start_time is not None and when < query.start_time) or (
            query.end_time is not None and when > query.end_time
        ):
            continue
        for text in record_texts(stored):
            # not another record of the run
            if record_event_id(text) == event_id and _unseen(after, when, event_id):
                found.append((when, event_id, text))
    return _newest(found, query.max_results + 1)


def _unseen(after: Cursor | None, when: datetime, event_id: str) -> bool:
    """Whether the record comes after the ``NextToken``'s cursor, on no page already given."""
    return after is None or (when, event_id) < (after.event_time, after.event_id)


def _newest(found: list[tuple[datetime, str, str]], count: int) -> list[dict[str, Any]]:
    """The newest ``count`` of the candidates, parsed. Each should be the record its id was read
    from (:func:`ironkeep.audit.lookup.record_event_id`); one that is not is logged, not hidden."""
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    page = []
    for _, event_id, text in found[:count]:
        record = orjson.loads(text)
        if record.get("eventID") != event_id:
            log.error(
                "an audit record's last eventID key is not its own (%r): it may be out of order", event_id
            )
        page.append(record)
    return page


def lookup(tx: Connection, account_id: str, params: dict[str, Any], key: bytes) -> dict[str, Any]:
    """``LookupEvents`` for ``account_id`` on an open connection: the output shape."""
    scope = f"account:{account_id}"
    query = parse_lookup(params, key, scope)
    return lookup_response(find_records(tx, account_id, query), query, key, scope)


@operation("cloudtrail", "LookupEvents", resource=lambda ctx, params: "*", read_only=True)
def lookup_events(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    key = token_key(ctx.services)
    with trail_reader(ctx) as tx:
        return lookup(tx, ctx.account_id, params, key)
