"""Where each statement of a policy document sits in its text, as the IAM policy simulator says.

The simulator's ``MatchedStatements`` carry ``StartPosition`` and ``EndPosition``, each a
``{Line, Column}``. The convention reproduced here is pinned by the AWS CLI's documented vector:
for the one-line policy
``{"Version":"2012-10-17","Statement":{"Effect":"Allow",...}}`` (167 characters) whose statement
braces sit at 1-based columns 37 and 166, AWS reports Start (1, 38) and End (1, 167). Both are the
reader's location just *after* the brace: the 1-based column of the brace plus one, on the
brace's line. A pretty-printed sample (Start (3, 19) for a ``"Statement": {`` line indented by
four spaces) agrees.

Lines are 1-based; a line ends at LF, CR or CR LF (CR LF counts once). Columns count characters
(code points) from 1. Pure: no I/O, no state.

API
---
``statement_spans(text) -> tuple[StatementSpan, ...]``
    One span per statement, in document order: the ``Statement`` object itself, or each element
    of the ``Statement`` array. Elements that are not objects get no span (IAM rejects them).
    Works for any JSON layout (whitespace, escapes in keys and strings, nesting, key order).
    Raises :class:`~ironkeep.errors.MalformedPolicyDocument` when the text is not a JSON object.

``StatementSpan``: ``index`` (the statement's index in the policy), ``start`` / ``end``
(:class:`Position`), ``start_offset`` / ``end_offset`` (the statement is
``text[start_offset:end_offset]``, braces included).

``position_at(text, offset) -> Position``: the simulator's position just after the character
at ``offset``.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass

from ironkeep.errors import MalformedPolicyDocument

__all__ = ["Position", "StatementSpan", "line_starts", "position_at", "statement_spans"]

_WHITESPACE = " \t\n\r"
_decoder = json.JSONDecoder()
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int

    def to_shape(self) -> dict[str, int]:
        return {"Line": self.line, "Column": self.column}


@dataclass(frozen=True, slots=True)
class StatementSpan:
    index: int
    start: Position
    end: Position
    start_offset: int  # offset of the opening brace
    end_offset: int  # offset just past the closing brace


def line_starts(text: str) -> list[int]:
    """Offsets at which each line begins (LF, CR and CR LF end a line)."""
    return [0] + [m.end() for m in _LINE_BREAK.finditer(text)]


def _position(starts: list[int], offset: int) -> Position:
    line = bisect_right(starts, offset)
    return Position(line=line, column=offset - starts[line - 1] + 2)


def position_at(text: str, offset: int) -> Position:
    """The simulator's position just after the character at ``offset`` (0-based)."""
    if not 0 <= offset < len(text):
        raise ValueError(f"offset {offset} outside the text")
    return _position(line_starts(text), offset)


def _fail(detail: str) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(f"Syntax errors in policy: the document is not valid JSON ({detail})")


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WHITESPACE:
        i += 1
    return i


def _value_end(text: str, i: int) -> int:
    """The offset just past the JSON value starting at ``i``."""
    try:
        _, end = _decoder.raw_decode(text, i)
    except (ValueError, RecursionError) as exc:
        raise _fail(str(exc)) from None
    return int(end)


def _expect(text: str, i: int, char: str) -> int:
    if i >= len(text) or text[i] != char:
        raise _fail(f"expected {char!r} at offset {i}")
    return i + 1


def _members(text: str, i: int) -> list[tuple[str, int, int]]:
    """The members of the object whose ``{`` is at ``i``: (key, value start, value end)."""
    i = _skip_ws(text, _expect(text, i, "{"))
    out: list[tuple[str, int, int]] = []
    if i < len(text) and text[i] == "}":
        return out
    while True:
        if i >= len(text) or text[i] != '"':
            raise _fail(f"expected a member name at offset {i}")
        key_end = _value_end(text, i)
        key = json.loads(text[i:key_end])
        i = _skip_ws(text, _expect(text, _skip_ws(text, key_end), ":"))
        end = _value_end(text, i)
        out.append((key, i, end))
        i = _skip_ws(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        _expect(text, i, "}")
        return out


def _elements(text: str, i: int) -> list[tuple[int, int]]:
    """The elements of the array whose ``[`` is at ``i``: (start, end) offsets."""
    i = _skip_ws(text, _expect(text, i, "["))
    out: list[tuple[int, int]] = []
    if i < len(text) and text[i] == "]":
        return out
    while True:
        end = _value_end(text, i)
        out.append((i, end))
        i = _skip_ws(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        _expect(text, i, "]")
        return out


def statement_spans(text: str) -> tuple[StatementSpan, ...]:
    """Each statement's span and simulator positions, in document order."""
    start = _skip_ws(text, 0)
    if start >= len(text) or text[start] != "{":
        raise _fail("the policy must be a JSON object")
    statement: tuple[int, int] | None = None
    members = _members(text, start)
    if _skip_ws(text, _value_end(text, start)) != len(text):
        raise _fail("extra data after the policy object")
    for key, value_start, value_end in members:
        if key == "Statement":
            statement = (value_start, value_end)  # the last one, as JSON readers keep
    if statement is None:
        return ()
    value_start, value_end = statement
    if text[value_start] == "{":
        pieces = [(value_start, value_end)]
    elif text[value_start] == "[":
        pieces = _elements(text, value_start)
    else:
        return ()
    starts = line_starts(text)
    return tuple(
        StatementSpan(
            index=index,
            start=_position(starts, begin),
            end=_position(starts, end - 1),
            start_offset=begin,
            end_offset=end,
        )
        for index, (begin, end) in enumerate(pieces)
        if text[begin] == "{"
    )
