"""Writing the audit trail: one CloudTrail record per call, in the call's own transaction.

A successful call's record is inserted in the same transaction as its change, so a committed
change always has its record. A failed call (authentication, validation, authorization, or the
handler's own error) rolled its transaction back; its record is written in a transaction of its
own. Records are built by :mod:`ironkeep.audit.records`, which removes every secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection
from sqlalchemy.pool import StaticPool

from ironkeep.audit import records, templates
from ironkeep.audit.lookup import identity_names, parse_time, resource_index, usernames
from ironkeep.services.context import Caller
from ironkeep.store import schema as t
from ironkeep.store.prepared import PreparedInsert

log = logging.getLogger("ironkeep.audit")

_TYPES = {"Root", "IAMUser", "AssumedRole", "FederatedUser", "WebIdentityUser", "SAMLUser"}


@lru_cache(maxsize=4096)
def audit_caller(caller: Caller | None) -> records.Caller | None:
    """The record's ``userIdentity`` for an authenticated caller (None: authentication failed);
    built once per caller (callers are immutable, and a steady one makes many calls)."""
    if caller is None or caller.kind == "Anonymous":
        return None
    session = caller.session
    issuer = None
    created = None
    mfa = False
    source_identity = None
    if session is not None:
        created = session.issued_at
        mfa = session.mfa_authenticated
        source_identity = session.source_identity
        if session.role_arn:
            issuer = records.SessionIssuer(
                type="Role",
                principal_id=session.issuer_id or "",
                arn=session.role_arn,
                account_id=session.account_id,
                user_name=session.role_arn.rsplit("/", 1)[-1],
            )
    return records.Caller(
        type=caller.kind if caller.kind in _TYPES else "Unknown",
        principal_id=caller.principal_id,
        arn=caller.arn,
        account_id=caller.account_id,
        user_name=caller.user_name,
        session_issuer=issuer,
        session_created=created,
        mfa_authenticated=mfa,
        source_identity=source_identity,
    )


def build(
    service: str,
    operation: str,
    now: datetime,
    request_id: str,
    account_id: str,
    read_only: bool,
    caller: Caller | None,
    access_key_id: str | None,
    parameters: dict[str, Any] | None,
    output: dict[str, Any] | None,
    error: Any = None,
    region: str = "",
    source_ip: str = "",
    user_agent: str = "",
) -> dict[str, Any]:
    return records.build_record(
        records.CallRecordInput(
            service=service,
            operation=operation,
            time=now,
            request_id=request_id,
            recipient_account_id=account_id,
            read_only=read_only,
            parameters=parameters or {},
            output=output,
            error_code=getattr(error, "code", None),
            error_message=getattr(error, "message", None),
            caller=audit_caller(caller),
            access_key_id=access_key_id,
            region=region,
            source_ip=source_ip,
            user_agent=user_agent,
        )
    )


def row_of(
    service: str,
    operation: str,
    now: datetime,
    request_id: str,
    account_id: str,
    read_only: bool,
    caller: Caller | None,
    access_key_id: str | None,
    parameters: dict[str, Any] | None,
    output: dict[str, Any] | None,
    error: Any = None,
    region: str = "",
    source_ip: str = "",
    user_agent: str = "",
) -> _EventRows:
    """The rows of :func:`build`'s record of a call (as :func:`_event_row` gives them), from the
    same fields, by name or in the same order. A successful read's text is filled into its caller's
    template (:mod:`ironkeep.audit.templates`), with the index columns the template's record
    has: the same rows, for a fraction of the work."""
    if (
        read_only
        and error is None
        and (output is None or not records.logs_response(service, operation, True))
    ):
        template = _read_template(
            service, operation, account_id, caller, access_key_id, region, source_ip, user_agent
        )
        if template is not None:
            logged = _logged_parameters(service, operation, account_id, parameters)
            if logged is not None:
                event_id = records.event_id_at(now)
                event_time = records.iso_time(now)
                text = templates.fill(template.text, event_time, logged, request_id, event_id)
                _, account, _, name, source, username, key, _, _, _ = template.row
                row = (
                    event_id,
                    account,
                    _event_time(event_time),
                    name,
                    source,
                    username,
                    key,
                    True,
                    None,
                    text,
                )
                names = template.names
                if len(names) == 1:
                    return row, [(event_id, names[0][0], names[0][1])]
                return row, [(event_id, kind, value) for kind, value in names]
    record = build(
        service, operation, now, request_id, account_id, read_only, caller, access_key_id,
        parameters, output, error, region, source_ip, user_agent,
    )  # fmt: skip
    return _event_row(record)


def _logged_parameters(
    service: str, operation: str, account_id: str, parameters: dict[str, Any] | None
) -> str | None:
    """The JSON text of a successful read's ``requestParameters``; None when its record lists
    ``resources`` (an ARN among the parameters names one), which no template holds."""
    if not parameters:
        return _logged_text(service, operation, account_id, ())
    try:
        return _logged_text(service, operation, account_id, tuple(parameters.items()))
    except TypeError:  # a value that cannot be a key (a list, a structure): no cache
        return _logged_text.__wrapped__(service, operation, account_id, tuple(parameters.items()))


@lru_cache(maxsize=4096)
def _logged_text(
    service: str, operation: str, account_id: str, items: tuple[tuple[str, Any], ...]
) -> str | None:
    """:func:`_logged_parameters`, once per call's parameters: a steady client reads the same few
    things again and again (a refresh reads every resource it manages). A member's values all
    have the type its model gives (so ``1`` and ``True`` never meet as one key's values)."""
    logged, names_resources = records.read_parameters(service, operation, dict(items), account_id)
    if names_resources:
        return None
    return orjson.dumps(logged).decode()


class _ReadTemplate(NamedTuple):
    text: templates.ReadTemplate
    row: tuple[Any, ...]  # the template record's audit_events row: its index columns
    names: tuple[tuple[str, str | None], ...]  # its audit_event_names rows, without the event id


@lru_cache(maxsize=4096)
def _read_template(
    service: str,
    operation: str,
    account_id: str,
    caller: Caller | None,
    access_key_id: str | None,
    region: str,
    source_ip: str,
    user_agent: str,
) -> _ReadTemplate | None:
    """The template of a successful read by this caller from this client: :func:`build`'s own
    record of the call (with no parameters), cut by :func:`templates.cut`; None where none applies."""
    record = build(
        service=service,
        operation=operation,
        now=_TEMPLATE_TIME,
        request_id="",
        account_id=account_id,
        read_only=True,
        caller=caller,
        access_key_id=access_key_id,
        parameters=None,
        output=None,
        region=region,
        source_ip=source_ip,
        user_agent=user_agent,
    )
    text = templates.cut(record)
    if text is None:
        return None
    row, names = _event_row(record)
    return _ReadTemplate(text, row, tuple((kind, value) for _, kind, value in names))


_TEMPLATE_TIME = datetime(2000, 1, 1, tzinfo=UTC)

_EVENT_COLUMNS = (
    "event_id",
    "account_id",
    "event_time",
    "event_name",
    "event_source",
    "username",
    "access_key_id",
    "read_only",
    "error_code",
    "record",
)
_INSERT_EVENTS = PreparedInsert(t.audit_events, _EVENT_COLUMNS)
_INSERT_NAMES = PreparedInsert(t.audit_event_names, ("event_id", "kind", "value"))
_e = t.audit_events.c
_LENGTH = {name: getattr(_e[name].type, "length", None) for name in _EVENT_COLUMNS}
_VALUE_LENGTH = getattr(t.audit_event_names.c.value.type, "length", None)


def _fit(value: str | None, length: int | None) -> str | None:
    """``value`` as an index column can hold it: without NUL (PostgreSQL's text cannot hold one)
    and cut to the column's length. A failed call's record may carry whatever the client sent (an
    action name, an access key id); the record itself keeps the values whole."""
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:length] if length and len(value) > length else value


# one record's audit_events row, with its audit_event_names rows
_EventRows = tuple[tuple[Any, ...], list[tuple[str, str, str | None]]]


def _event_row(record: dict[str, Any]) -> _EventRows:
    """The ``audit_events`` row and the ``audit_event_names`` rows of one record: the columns of
    :func:`index_fields`, each fitted (:func:`_fit`). What a steady caller's records share (the
    caller's names, the call's account, name and source, the second of ``eventTime``) is derived
    once and cached by value, so a record costs little more than its JSON; the record is read
    anew each time, never trusted to be the one a cached value came from."""
    identity = record.get("userIdentity") or {}
    username, access_key_id, name_rows = _identity_columns(
        *identity_names(identity), identity.get("accessKeyId")
    )
    account_id, event_name, event_source = _call_columns(
        record.get("recipientAccountId") or "", record.get("eventName") or "", record.get("eventSource") or ""
    )
    error_code = record.get("errorCode")
    event_id = record["eventID"]
    row = (
        event_id,
        account_id,
        _event_time(record["eventTime"]),
        event_name,
        event_source,
        username,
        access_key_id,
        bool(record.get("readOnly")),
        None if error_code is None else _fit(error_code, _LENGTH["error_code"]),
        orjson.dumps(record).decode(),
    )
    resources = record.get("resources")
    if resources:
        name_rows = name_rows + _resource_rows(resources)
    return row, [(event_id, kind, value) for kind, value in name_rows]


@lru_cache(maxsize=4096)
def _identity_columns(
    kind: Any, arn: Any, user_name: Any, issuer_name: Any, access_key_id: Any
) -> tuple[str | None, str | None, tuple[tuple[str, str | None], ...]]:
    """The ``username`` and ``access_key_id`` columns of a ``userIdentity`` (as
    :func:`identity_names` reads it) and its ``username`` rows: once per caller and key."""
    shown, names = usernames(kind, arn, user_name, issuer_name)
    fitted = dict.fromkeys(_fit(name, _VALUE_LENGTH) for name in names)
    return (
        _fit(shown, _LENGTH["username"]),
        _fit(access_key_id, _LENGTH["access_key_id"]),
        tuple(("username", name) for name in fitted),
    )


@lru_cache(maxsize=1024)
def _call_columns(account_id: Any, event_name: Any, event_source: Any) -> tuple[str, str, str]:
    """The ``account_id``, ``event_name`` and ``event_source`` columns: once per account and call."""
    return (
        _fit(account_id, _LENGTH["account_id"]),
        _fit(event_name, _LENGTH["event_name"]),
        _fit(event_source, _LENGTH["event_source"]),
    )  # type: ignore[return-value]


@lru_cache(maxsize=64)
def _event_time(text: str) -> datetime:
    """The ``event_time`` column: ``eventTime`` parsed once per second of the trail. The records
    of one second share the datetime, and :class:`PreparedInsert` binds it once per batch."""
    return parse_time(text)


def _resource_rows(resources: Any) -> tuple[tuple[str, str | None], ...]:
    """The ``resource_type`` then ``resource_name`` rows of a record's ``resources``."""
    _, types, names = resource_index(resources)
    rows = [("resource_type", _fit(value, _VALUE_LENGTH)) for value in types]
    rows += [("resource_name", _fit(value, _VALUE_LENGTH)) for value in names]
    return tuple(dict.fromkeys(rows))


def write(tx: Connection, record: dict[str, Any] | _EventRows) -> None:
    """One record (or its rows: :func:`row_of`), in the caller's transaction."""
    write_many(tx, [record])  # type: ignore[list-item]


def write_many(tx: Connection, records: list[dict[str, Any]] | list[_EventRows]) -> None:
    """Records (or their rows: :func:`row_of`), in the caller's transaction."""
    _insert(tx, [_event_row(record) if isinstance(record, dict) else record for record in records])


def write_runs(tx: Connection, records: list[dict[str, Any]] | list[_EventRows]) -> None:
    """Records (or their rows), in the caller's transaction, as the batch writer writes them:
    those alike but for their ids merged into runs (:func:`_runs`)."""
    _insert(tx, _runs([_event_row(record) if isinstance(record, dict) else record for record in records]))


# records as _event_row gives them
_Rows = list[_EventRows]


def _insert(tx: Connection, rows: _Rows) -> None:
    """The ``audit_events`` rows and then the ``audit_event_names`` rows of records (``_event_row``)."""
    _INSERT_EVENTS.insert_many(tx, [row for row, _ in rows])
    _INSERT_NAMES.insert_many(tx, [name for _, names in rows for name in names])


def _runs(rows: _Rows) -> _Rows:
    """The rows of records, with the records that answer to the same look-ups (the same index
    columns, ``eventTime`` among them, and the same names) merged into one row: a *run*. Its
    ``record`` column holds the records' texts one per line, in the order of their event ids, and
    its ``event_id`` the first of them, under which its names are indexed. A caller's repeated
    reads within a second make one run, so the trail writes a row and its index entries per run
    rather than per record. (Compact JSON has no line breaks: a record's text holds none.)"""
    runs: dict[tuple[Any, ...], list[_EventRows]] = {}
    for rows_of_one in rows:
        row, names = rows_of_one
        key = (row[1:9], *[(kind, value) for _, kind, value in names])
        run = runs.get(key)
        if run is None:
            runs[key] = [rows_of_one]
        else:
            run.append(rows_of_one)
    out: _Rows = []
    for run in runs.values():
        if len(run) == 1:
            out.append(run[0])
            continue
        run.sort(key=_first_column)
        (first, *columns, _), names = run[0]
        text = "\n".join([row[9] for row, _ in run])
        out.append(((first, *columns, text), [(first, kind, value) for _, kind, value in names]))
    return out


def _first_column(rows: _EventRows) -> str:
    return rows[0][0]  # type: ignore[no-any-return]


_SLICE = 16  # records the writer builds at a time (see AuditWriter._write_batch)


def _built(makers: list[Callable[[], dict[str, Any] | _EventRows]]) -> _Rows:
    """The rows of each record (a record that cannot be built is logged and left out)."""
    rows = []
    for make in makers:
        try:
            made = make()
            if isinstance(made, dict):  # each record's rows at once: its dict is let go
                made = _event_row(made)
            if made:
                rows.append(made)
        except Exception:
            log.exception("could not build an audit record")
    return rows


class AuditWriter:
    """Writes the records of calls that changed nothing (reads, and failed calls whose transaction
    was rolled back) in batches, from a thread of its own: one transaction per batch instead of one
    per call. A change's record never comes here: it is written in the change's own transaction.

    The first record of a batch wakes the writer, which waits ``linger`` seconds for more, or less
    once ``batch`` records are waiting; so a busy server commits a few hundred records at a time
    (each commit rewrites the last page of every index of the trail), a quiet one a few.
    ``flush()`` waits until everything submitted so far is written; reading the trail calls it
    first, and the server calls it on shutdown. Records wait here a tenth of a second at most.
    """

    def __init__(self, store: Any, batch: int = 256, linger: float = 0.1) -> None:
        self.store = store
        self.batch = batch
        self.linger = linger
        # A deque and a flag rather than a queue.Queue: submitting is an append (atomic under the
        # interpreter lock), and only the first record of a batch wakes the writer.
        self._pending: deque[Callable[[], dict[str, Any] | _EventRows] | threading.Event] = deque()
        self._armed = False
        self._wake = threading.Event()
        self._full = threading.Event()  # a batch is waiting, or a flush: stop lingering
        self._thread = threading.Thread(target=self._loop, name="ironkeep-audit", daemon=True)
        self._thread.start()

    def submit(self, make_record: Callable[[], dict[str, Any] | _EventRows]) -> None:
        """``make_record`` builds the record (or its rows: :func:`row_of`) in the writer's
        thread, off the request's path."""
        pending = self._pending
        pending.append(make_record)
        if not self._armed:
            self._armed = True
            self._wake.set()
        elif len(pending) >= self.batch:  # several threads may submit at once: not ==
            self._full.set()

    def flush(self, timeout: float = 10.0) -> None:
        """Return once every record submitted before this call is committed."""
        done = threading.Event()
        self._pending.append(done)
        self._armed = True
        self._full.set()
        self._wake.set()
        done.wait(timeout)

    def _write_batch(self, makers: list[Callable[[], dict[str, Any] | _EventRows]]) -> None:
        """The batch's records, merged into runs (:func:`_runs`), in one transaction. They are
        built a slice at a time: building is Python under the interpreter lock, which the event
        loop's thread then waits for, a slice's time (a tenth of a millisecond) rather than a
        whole batch's; between slices the writer lets go of it. If the store refuses the batch,
        one transaction per record (:meth:`_write`)."""
        built: _Rows = []
        for start in range(0, len(makers), _SLICE):
            if start:
                time.sleep(0)  # lets go of the interpreter lock
            built += _built(makers[start : start + _SLICE])
        try:
            with self.store.transaction(write=True) as tx:
                write_runs(tx, built)
            return
        except Exception:  # the store refused the batch: a transaction per record, below
            log.warning("an audit batch was refused; writing its records one at a time")
        for row in built:
            self._write([row])

    def _write(self, rows: _Rows) -> None:
        """One transaction for the batch; if the store refuses it, one per record, so that a record
        it cannot hold costs only itself."""
        try:
            with self.store.transaction(write=True) as tx:
                _insert(tx, rows)
            return
        except Exception:
            if len(rows) == 1:
                log.exception("could not write an audit record")
                return
        for row in rows:
            self._write([row])

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if len(self._pending) < self.batch:
                self._full.wait(self.linger)  # let a batch gather: one commit for many records
            self._full.clear()
            self._armed = False  # from here on, a new record wakes the next round
            items: list[Callable[[], dict[str, Any] | _EventRows] | threading.Event] = []
            while self._pending and len(items) < self.batch:
                items.append(self._pending.popleft())
            if self._pending:  # more than a batch: go round again at once, without lingering
                self._armed = True
                self._full.set()
                self._wake.set()
            makers = [item for item in items if not isinstance(item, threading.Event)]
            if makers:
                self._write_batch(makers)
            for item in items:  # only now: the records before each flush are committed
                if isinstance(item, threading.Event):
                    item.set()


@contextmanager
def trail_reader(ctx: Any) -> Iterator[Connection]:
    """A read transaction that sees every audit record submitted so far: the batch writer is
    flushed, then a fresh transaction is opened (the call's own took its snapshot earlier), unless
    the store is one shared connection (in-memory SQLite), whose transaction is the call's."""
    writer = getattr(ctx.services, "audit_writer", None)
    if writer is not None:
        writer.flush()
    store = getattr(ctx.services, "store", None)
    if store is None or isinstance(store.engine.pool, StaticPool):
        yield ctx.tx
        return
    with store.transaction(write=False) as tx:
        yield tx
