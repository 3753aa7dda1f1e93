"""The JSON text of a read's record filled into a template: what a steady caller's reads share
is serialized once. Pure.

Most of a busy trail is reads by a few callers, and their records differ only in four values:
``eventTime``, ``requestParameters``, ``requestID`` and ``eventID``. A :class:`ReadTemplate` is
the text of one such record as :func:`~ironkeep.audit.records.build_record` built it and
``orjson.dumps`` wrote it, cut where those four values stand; :func:`fill` puts a call's values
back, so the text is what building and dumping that call's record gives, character for
character, at a fraction of the cost. :func:`cut` refuses (None) a record that is not a
successful read's, or one whose other values would make the cuts ambiguous.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

# what stands in for the four values while a template is cut (JSON strings no record holds)
_CUTS = ("eventTime", "requestParameters", "requestID", "eventID")
_PLACEHOLDERS = {name: f"\x00ironkeep-template:{name}\x00" for name in _CUTS}
_MARKS = tuple(orjson.dumps(_PLACEHOLDERS[name]) for name in _CUTS)


class ReadTemplate(NamedTuple):
    """The record's text before ``eventTime``, between the four values, and after ``eventID``."""

    parts: tuple[str, str, str, str, str]


def cut(record: dict[str, Any]) -> ReadTemplate | None:
    """The template of ``record``'s call: a successful read's record (no error, no response
    elements, no resources) holding the four values in this order; None for any other record."""
    if (
        not record.get("readOnly")
        or "errorCode" in record
        or record.get("responseElements") is not None
        or "resources" in record
        or any(name not in record for name in _CUTS)
    ):
        return None
    text = orjson.dumps({**record, **_PLACEHOLDERS})  # each value replaced where it stands
    if any(text.count(mark) != 1 for mark in _MARKS):  # a value holds a placeholder's text
        return None
    at = [text.index(mark) for mark in _MARKS]
    if at != sorted(at):
        return None
    parts = []
    for mark in _MARKS:
        before, text = text.split(mark)
        parts.append(before.decode())
    parts.append(text.decode())
    return ReadTemplate((parts[0], parts[1], parts[2], parts[3], parts[4]))


def fill(template: ReadTemplate, event_time: str, parameters: str, request_id: str, event_id: str) -> str:
    """The text of the record of the template's call with these four values: ``event_time`` as
    :func:`~ironkeep.audit.records.iso_time` writes it, ``parameters`` the JSON text of
    ``requestParameters``, ``event_id`` as :func:`~ironkeep.audit.records.new_event_id` makes it
    (those two need no escaping: digits, letters, ``-``, ``:``); ``request_id`` any text."""
    head, after_time, after_parameters, after_request, tail = template.parts
    return (
        f'{head}"{event_time}"{after_time}{parameters}{after_parameters}'
        f'{orjson.dumps(request_id).decode()}{after_request}"{event_id}"{tail}'
    )
