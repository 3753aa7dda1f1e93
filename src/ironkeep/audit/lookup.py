"""CloudTrail ``LookupEvents`` over stored event records. Pure: no I/O, keys and records come in.

* :func:`index_fields` gives the columns a store indexes for each record (and everything
  :meth:`LookupQuery.matches` needs), so a SQL store and the in-memory :func:`lookup_events`
  apply the same semantics.
* :func:`parse_lookup` validates a decoded ``LookupEvents`` input into a :class:`LookupQuery`:
  one lookup attribute (CloudTrail honours the first and ignores the rest), ``StartTime`` ≤
  ``EndTime`` (both inclusive), ``MaxResults`` 1 to 50 (default 50), ``EventCategory`` ``insight``
  only, and a ``NextToken`` that must come from a call with the same parameters.
* Events are returned newest first (ties by event id, descending); the page after a token starts
  strictly after the last event of the previous page.
* ``NextToken`` is opaque and tamper-evident: ``base64url(payload).base64url(HMAC-SHA256)`` with
  a key the caller passes in; the payload binds the position and a digest of the filter
  parameters (and an optional ``scope``, e.g. account and region), so a token altered or used
  with other parameters is ``InvalidNextTokenException``. ``MaxResults`` may change between pages.

Attribute semantics (values compared exactly and case-sensitively, as CloudTrail does):
``EventId``, ``EventName``, ``EventSource``, ``AccessKeyId`` equal the record's; ``ReadOnly``
is ``true`` or ``false``; ``Username`` is the user name, the role name or the role session name
(or ``root``); ``ResourceType``/``ResourceName`` match one of the record's ``resources`` (by ARN
or by the name at the end of it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ironkeep.errors import AWSError

LOOKUP_ATTRIBUTE_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
DEFAULT_MAX_RESULTS = 50
MAX_ATTRIBUTE_VALUE = 2000
#: Characters CloudTrail counts twice towards the 2000-character limit of an attribute value.
_DOUBLE_WIDTH = frozenset("_ ,\n")


class InvalidLookupAttributesException(AWSError):
    code = "InvalidLookupAttributesException"
    status = 400


class InvalidTimeRangeException(AWSError):
    code = "InvalidTimeRangeException"
    status = 400


class InvalidMaxResultsException(AWSError):
    code = "InvalidMaxResultsException"
    status = 400


class InvalidNextTokenException(AWSError):
    code = "InvalidNextTokenException"
    status = 400


class InvalidEventCategoryException(AWSError):
    code = "InvalidEventCategoryException"
    status = 400


# --------------------------------------------------------------------------------------------
# Index columns


def _short_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def identity_names(identity: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
    """What :func:`usernames` reads of a ``userIdentity``: its type, ARN, user name and its
    session issuer's user name (a store caches the names of a steady caller by these)."""
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return identity.get("type"), identity.get("arn"), identity.get("userName"), issuer.get("userName")


def usernames(kind: Any, arn: Any, user_name: Any, issuer_name: Any) -> tuple[str | None, tuple[str, ...]]:
    """(the name LookupEvents shows, every name ``Username`` matches) of a ``userIdentity``
    given as :func:`identity_names` reads it: ``root``, a session's name (the end of its ARN), or
    the user name; then the user name and the session issuer's name, each once."""
    if kind == "Root":
        shown: str | None = "root"
    elif kind in ("AssumedRole", "FederatedUser") and arn:
        shown = _short_name(arn)
    else:
        shown = user_name
    names = [n for n in (shown, user_name, issuer_name) if n]
    return shown, tuple(dict.fromkeys(names))


def _usernames(identity: Mapping[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    """(the name LookupEvents shows, every name ``Username`` matches) of a ``userIdentity``."""
    return usernames(*identity_names(identity))


def resource_index(
    entries: Iterable[Mapping[str, Any]] | None,
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]:
    """A record's ``resources`` as ``(type, ARN)`` pairs, then the types ``ResourceType`` matches
    and the names ``ResourceName`` matches (each ARN and the name at its end), each once."""
    resources = tuple((r.get("type", ""), r.get("ARN", "")) for r in entries or ())
    names: list[str] = []
    for _, arn in resources:
        names += [arn, _short_name(arn)]
    return resources, tuple(dict.fromkeys(t for t, _ in resources)), tuple(dict.fromkeys(names))


def record_texts(stored: str) -> list[str]:
    """The records (JSON text) in one ``audit_events.record`` value: a record, or a run's records,
    one per line (compact JSON holds no line break)."""
    return stored.split("\n")


def record_event_id(text: str) -> str:
    """The ``eventID`` of a record's compact JSON text, read without parsing it: its last
    ``"eventID":"`` key. No string holds that text (JSON escapes a string's quotes), and of the
    members a record may nest objects in (``requestParameters``, ``responseElements``), none comes
    after ``eventID``; a reader that parses the record after all checks the two agree."""
    at = text.rfind('"eventID":"') + 11
    return text[at : text.index('"', at)]


def parse_time(text: str) -> datetime:
    """``2024-05-06T07:08:09Z`` → an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def index_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a store indexes for one record (``audit_events``), all derived from the record.

    Keys: ``event_id``, ``event_time`` (aware UTC datetime), ``event_name``, ``event_source``,
    ``username`` (the name shown, or ``None``), ``usernames`` (tuple: every name ``Username``
    matches), ``access_key_id``, ``read_only`` (bool), ``resources`` (tuple of ``(type, ARN)``),
    ``resource_types`` and ``resource_names`` (tuples; names hold each ARN and its short name),
    ``account_id`` (``recipientAccountId``), ``event_category``.
    """
    identity = record.get("userIdentity") or {}
    shown, names = _usernames(identity)
    resources, resource_types, resource_names = resource_index(record.get("resources"))
    return {
        "event_id": record["eventID"],
        "event_time": parse_time(record["eventTime"]),
        "event_name": record.get("eventName"),
        "event_source": record.get("eventSource"),
        "username": shown,
        "usernames": names,
        "access_key_id": identity.get("accessKeyId"),
        "read_only": bool(record.get("readOnly")),
        "resources": resources,
        "resource_types": resource_types,
        "resource_names": resource_names,
        "account_id": record.get("recipientAccountId"),
        "event_category": record.get("eventCategory", "Management"),
    }


# --------------------------------------------------------------------------------------------
# The query


@dataclass(frozen=True)
class Cursor:
    """The last event of a page: the next page starts strictly after it (newest first)."""

    event_time: datetime
    event_id: str


@dataclass(frozen=True)
class LookupQuery:
    attribute_key: str | None = None
    attribute_value: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    event_category: str | None = None
    max_results: int = DEFAULT_MAX_RESULTS
    after: Cursor | None = None

    def matches(self, fields: Mapping[str, Any]) -> bool:
        """Whether a record with these :func:`index_fields` belongs to the result (ignoring
        ``after`` and ``max_results``)."""
        if self.event_category is not None:
            return fields["event_category"].lower() == self.event_category
        if fields["event_category"] != "Management":
            return False
        when = fields["event_time"]
        if self.start_time is not None and when < self.start_time:
            return False
        if self.end_time is not None and when > self.end_time:
            return False
        return self.attribute_key is None or _attribute_matches(
            self.attribute_key, self.attribute_value, fields
        )

    def digest(self, scope: str = "") -> str:
        """What a ``NextToken`` is bound to: the filter parameters (not the page size)."""
        parts = [
            scope,
            self.attribute_key,
            self.attribute_value,
            _micros(self.start_time),
            _micros(self.end_time),
            self.event_category,
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    return (value - _EPOCH) // timedelta(microseconds=1)


def _attribute_matches(key: str, value: str | None, fields: Mapping[str, Any]) -> bool:
    if key == "ReadOnly":
        return (value or "").lower() == ("true" if fields["read_only"] else "false")
    if key == "Username":
        return value in fields["usernames"]
    if key == "ResourceType":
        return value in fields["resource_types"]
    if key == "ResourceName":
        return value in fields["resource_names"]
    column = {"EventId": "event_id", "EventName": "event_name", "EventSource": "event_source"}.get(
        key, "access_key_id"
    )
    return fields[column] == value


def attribute_length(value: str) -> int:
    """The length CloudTrail checks against 2000: ``_``, space, ``,`` and newline count twice."""
    return len(value) + sum(1 for ch in value if ch in _DOUBLE_WIDTH)


def _as_utc(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidTimeRangeException(f"{name} is not a valid timestamp")
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _attribute(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    attributes = params.get("LookupAttributes") or []
    if not isinstance(attributes, list):
        raise InvalidLookupAttributesException("LookupAttributes must be a list")
    if not attributes:
        return None, None
    first = attributes[0]
    key = first.get("AttributeKey") if isinstance(first, Mapping) else None
    value = first.get("AttributeValue") if isinstance(first, Mapping) else None
    if key not in LOOKUP_ATTRIBUTE_KEYS:
        raise InvalidLookupAttributesException(
            f"Invalid attribute key: {key}. Valid keys are {', '.join(LOOKUP_ATTRIBUTE_KEYS)}"
        )
    if not isinstance(value, str) or not value:
        raise InvalidLookupAttributesException(f"A value is required for lookup attribute {key}")
    if attribute_length(value) > MAX_ATTRIBUTE_VALUE:
        raise InvalidLookupAttributesException(
            f"The value of lookup attribute {key} is longer than {MAX_ATTRIBUTE_VALUE} characters"
        )
    return key, value


def parse_lookup(params: Mapping[str, Any], token_key: bytes, scope: str = "") -> LookupQuery:
    """Validate a decoded ``LookupEvents`` input (model member names, Python values)."""
    key, value = _attribute(params)
    start = _as_utc(params.get("StartTime"), "StartTime")
    end = _as_utc(params.get("EndTime"), "EndTime")
    if start is not None and end is not None and start > end:
        raise InvalidTimeRangeException("Start time must be earlier than or equal to end time")
    limit = params.get("MaxResults", DEFAULT_MAX_RESULTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= DEFAULT_MAX_RESULTS:
        raise InvalidMaxResultsException(f"MaxResults must be between 1 and {DEFAULT_MAX_RESULTS}")
    category = params.get("EventCategory")
    if category is not None and category != "insight":
        raise InvalidEventCategoryException("The only valid event category is insight")
    query = LookupQuery(key, value, start, end, category, limit)
    token = params.get("NextToken")
    if token is None:
        return query
    return LookupQuery(key, value, start, end, category, limit, read_token(token, query, token_key, scope))


# --------------------------------------------------------------------------------------------
# NextToken


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: bytes, token_key: bytes) -> bytes:
    return hmac.new(token_key, payload, hashlib.sha256).digest()


def make_token(cursor: Cursor, query: LookupQuery, token_key: bytes, scope: str = "") -> str:
    """The ``NextToken`` of a page that ended at ``cursor``."""
    payload = json.dumps(
        {"q": query.digest(scope), "t": _micros(cursor.event_time), "i": cursor.event_id},
        separators=(",", ":"),
    ).encode()
    return f"{_b64(payload)}.{_b64(_sign(payload, token_key))}"


def read_token(token: str, query: LookupQuery, token_key: bytes, scope: str = "") -> Cursor:
    """The position a ``NextToken`` carries; :class:`InvalidNextTokenException` if it was altered,
    made with another key or scope, or made for other parameters."""
    invalid = InvalidNextTokenException("Invalid NextToken")
    body, dot, signature = token.partition(".")
    if not dot or not _B64URL.fullmatch(body) or not _B64URL.fullmatch(signature):
        raise invalid
    try:
        payload, mac = _unb64(body), _unb64(signature)
    except (binascii.Error, ValueError):
        raise invalid from None
    if _b64(payload) != body or _b64(mac) != signature:  # one spelling per token: no spare bits
        raise invalid
    if not hmac.compare_digest(mac, _sign(payload, token_key)):
        raise invalid
    data = json.loads(payload)
    if data.get("q") != query.digest(scope):
        raise InvalidNextTokenException("NextToken was issued for a request with different parameters")
    return Cursor(_EPOCH + timedelta(microseconds=data["t"]), data["i"])


# --------------------------------------------------------------------------------------------
# Results


def order_key(fields: Mapping[str, Any]) -> tuple[datetime, str]:
    """Events are listed by this key, descending (``reverse=True``): newest first, then event id."""
    return (fields["event_time"], fields["event_id"])


def _after(cursor: Cursor, fields: Mapping[str, Any]) -> bool:
    when = fields["event_time"]
    return when < cursor.event_time or (when == cursor.event_time and fields["event_id"] < cursor.event_id)


def summary_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of ``LookupEvents``' ``Events``: the summary plus the record as a JSON string."""
    fields = index_fields(record)
    event: dict[str, Any] = {
        "EventId": fields["event_id"],
        "EventName": fields["event_name"],
        "ReadOnly": "true" if fields["read_only"] else "false",
        "AccessKeyId": fields["access_key_id"],
        "EventTime": fields["event_time"],
        "EventSource": fields["event_source"],
        "Username": fields["username"],
        "Resources": [{"ResourceType": t, "ResourceName": arn} for t, arn in fields["resources"]],
        "CloudTrailEvent": json.dumps(record, separators=(",", ":"), ensure_ascii=False),
    }
    return {k: v for k, v in event.items() if v is not None}


def lookup_response(
    page: Iterable[Mapping[str, Any]], query: LookupQuery, token_key: bytes, scope: str = ""
) -> dict[str, Any]:
    """The ``LookupEvents`` output from matching records already sorted newest first, starting
    after ``query.after``: give up to ``max_results + 1`` of them (the extra one tells that a
    ``NextToken`` is due)."""
    records = []
    for record in page:
        records.append(record)
        if len(records) > query.max_results:
            break
    shown = records[: query.max_results]
    response: dict[str, Any] = {"Events": [summary_event(r) for r in shown]}
    if len(records) > query.max_results:
        last = index_fields(shown[-1])
        response["NextToken"] = make_token(
            Cursor(last["event_time"], last["event_id"]), query, token_key, scope
        )
    return response


def lookup_events(
    records: Iterable[Mapping[str, Any]], query: LookupQuery, token_key: bytes, scope: str = ""
) -> dict[str, Any]:
    """``LookupEvents`` over records held in memory (the reference for a store's SQL)."""
    indexed = [(index_fields(r), r) for r in records]
    chosen = [
        (f, r) for f, r in indexed if query.matches(f) and (query.after is None or _after(query.after, f))
    ]
    chosen.sort(key=lambda pair: order_key(pair[0]), reverse=True)
    return lookup_response((r for _, r in chosen), query, token_key, scope)
