"""CloudTrail ``LookupEvents`` over the audit trail in the store (``audit_events``).

The query semantics are :mod:`ironkeep.audit.lookup`'s (its :func:`~ironkeep.audit.lookup.lookup_events`
is the in-memory reference); this module turns a :class:`~ironkeep.audit.lookup.LookupQuery` into
one SQL statement, scoped to the caller's account:

* ``EventId``, ``EventName``, ``EventSource``, ``AccessKeyId`` and ``ReadOnly`` compare columns
  of ``audit_events``; ``Username``, ``ResourceType`` and ``ResourceName`` look the value up in
  ``audit_event_names`` (every name a record answers to, written with it);
* ``StartTime``/``EndTime`` are inclusive; ``EventCategory=insight`` finds nothing (Ironkeep
  records management events only);
* newest first (``event_time DESC, event_id DESC``), strictly after the ``NextToken``'s cursor,
  ``MaxResults + 1`` rows fetched so that the extra row says whether a ``NextToken`` is due.

Records of reads and failed calls reach the store through the pipeline's batch writer, so the
handler flushes it and then reads in a transaction of its own, which sees them (the call's own
SQLite transaction took its snapshot when the caller was authenticated).

``NextToken`` is signed with :func:`token_key`: ``services.lookup_token_key``, which the server
derives from the master key with :func:`derive_token_key`, so tokens survive restarts and work on
every node.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy import Connection, Select, and_, false, or_, select

from ironkeep.audit.lookup import LookupQuery, lookup_response, parse_lookup
from ironkeep.services.audit_trail import trail_reader
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

_EVENTS = t.audit_events
_NAMES = t.audit_event_names
_COLUMNS = {
    "EventId": _EVENTS.c.event_id,
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


def lookup_statement(account_id: str, query: LookupQuery) -> Select[Any]:
    """The SQL of one page: the records (JSON text) of ``account_id`` matching ``query``, newest
    first, after ``query.after``, at most ``query.max_results + 1`` rows."""
    stmt = select(_EVENTS.c.record).where(_EVENTS.c.account_id == account_id)
    if query.event_category is not None:  # Insights events: Ironkeep has none
        stmt = stmt.where(false())
    if query.start_time is not None:
        stmt = stmt.where(_EVENTS.c.event_time >= query.start_time)
    if query.end_time is not None:
        stmt = stmt.where(_EVENTS.c.event_time <= query.end_time)
    key, value = query.attribute_key, query.attribute_value
    if key is not None and value is not None:
        if key in _COLUMNS:
            stmt = stmt.where(_COLUMNS[key] == value)
        elif key == "ReadOnly":
            wanted = value.lower()
            stmt = stmt.where(
                _EVENTS.c.read_only == (wanted == "true") if wanted in ("true", "false") else false()
            )
        else:
            names = select(_NAMES.c.event_id).where(
                _NAMES.c.kind == _NAME_KINDS[key], _NAMES.c.value == value
            )
            stmt = stmt.where(_EVENTS.c.event_id.in_(names))
    if query.after is not None:
        when, event_id = query.after.event_time, query.after.event_id
        stmt = stmt.where(
            or_(
                _EVENTS.c.event_time < when, and_(_EVENTS.c.event_time == when, _EVENTS.c.event_id < event_id)
            )
        )
    return stmt.order_by(_EVENTS.c.event_time.desc(), _EVENTS.c.event_id.desc()).limit(query.max_results + 1)


def find_records(tx: Connection, account_id: str, query: LookupQuery) -> list[dict[str, Any]]:
    """The records of one page (up to ``max_results + 1``), parsed, in order."""
    return [orjson.loads(text) for text in tx.execute(lookup_statement(account_id, query)).scalars()]


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
