"""Statement positions as the IAM policy simulator reports them, for any JSON layout."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.errors import MalformedPolicyDocument
from ironkeep.policy import parse_policy
from ironkeep.policy.positions import Position, position_at, statement_spans

CLI_VECTOR = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)


def offset_of(text: str, position: Position) -> int:
    """Reference: walk the text character by character (LF, CR, CR LF end a line)."""
    line, column, i = 1, 1, 0
    while i < len(text):
        if (line, column) == (position.line, position.column):
            return i
        ch = text[i]
        if ch == "\r" and i + 1 < len(text) and text[i + 1] == "\n":
            i += 2
            line, column = line + 1, 1
        elif ch in "\r\n":
            i += 1
            line, column = line + 1, 1
        else:
            i += 1
            column += 1
    if (line, column) == (position.line, position.column):
        return i
    raise AssertionError(f"{position} is not in the text")


def sliced(text: str, start: Position, end: Position) -> str:
    """The text from the brace before Start to the brace before End, both included."""
    return text[offset_of(text, start) - 1 : offset_of(text, end)]


def test_cli_vector_is_reproduced_exactly():
    assert len(CLI_VECTOR) == 167
    (span,) = statement_spans(CLI_VECTOR)
    assert (span.start, span.end) == (Position(1, 38), Position(1, 167))
    assert span.start.to_shape() == {"Line": 1, "Column": 38}
    assert json.loads(sliced(CLI_VECTOR, span.start, span.end)) == json.loads(CLI_VECTOR)["Statement"]


def test_pretty_printed_object_statement():
    text = json.dumps(json.loads(CLI_VECTOR), indent=4)
    (span,) = statement_spans(text)
    assert text.splitlines()[2] == '    "Statement": {'
    assert span.start == Position(3, 19)  # the documented pretty-printed sample's start
    assert span.end == Position(len(text.splitlines()) - 1, 6)
    assert text[span.start_offset : span.end_offset] == sliced(text, span.start, span.end)


def test_statement_array_each_element_and_line_endings():
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Sid": "B", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::x/*"},
        ],
    }
    for newline in ("\n", "\r\n", "\r"):
        text = json.dumps(doc, indent=2).replace("\n", newline)
        spans = statement_spans(text)
        assert [s.index for s in spans] == [0, 1]
        assert [json.loads(sliced(text, s.start, s.end)) for s in spans] == doc["Statement"]
        assert spans[0].start == Position(4, 6) and spans[1].start.line == 10


def test_escaped_key_and_braces_inside_strings():
    text = '{"St\\u0061tement" : [ {"Sid":"x","Effect":"Allow","Action":"a:b","Resource":"}{[\\"]"} ] }'
    (span,) = statement_spans(text)
    assert text[span.start_offset : span.end_offset].endswith('"}{[\\"]"}')
    assert span.start == Position(1, 24)  # the statement's brace is at column 23


def test_no_statement_and_not_json():
    assert statement_spans('{"Version":"2012-10-17"}') == ()
    for bad in ("", "[]", '{"Statement":', '{"a" 1}', "{} x", '{"Statement":{}'):
        with pytest.raises(MalformedPolicyDocument):
            statement_spans(bad)
    with pytest.raises(ValueError):
        position_at("abc", 3)


# --- properties -------------------------------------------------------------------------------

WHITESPACE = st.text(alphabet=" \t\n\r", max_size=3)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=8),
    st.text(alphabet='{}[]",:\\\u2028\x85\x0b', max_size=6),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
STATEMENTS = st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4)


def render(value: Any, data: st.DataObject, ascii_only: bool) -> str:
    """JSON text with random white space between every pair of tokens."""

    def ws() -> str:
        return data.draw(WHITESPACE)

    if isinstance(value, dict):
        items = [
            ws()
            + json.dumps(k, ensure_ascii=ascii_only)
            + ws()
            + ":"
            + ws()
            + render(v, data, ascii_only)
            + ws()
            for k, v in value.items()
        ]
        return "{" + (",".join(items) if items else ws()) + "}"
    if isinstance(value, list):
        items = [ws() + render(v, data, ascii_only) + ws() for v in value]
        return "[" + (",".join(items) if items else ws()) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@settings(max_examples=150, deadline=None)
@given(
    statements=st.lists(STATEMENTS, min_size=1, max_size=4),
    extra=st.dictionaries(st.sampled_from(["Version", "Id", "Other"]), JSON_VALUES, max_size=2),
    as_object=st.booleans(),
    statement_first=st.booleans(),
    ascii_only=st.booleans(),
    data=st.data(),
)
def test_spans_slice_exactly_each_statement(statements, extra, as_object, statement_first, ascii_only, data):
    body: Any = statements[0] if as_object else statements
    doc = {"Statement": body, **extra} if statement_first else {**extra, "Statement": body}
    text = data.draw(WHITESPACE) + render(doc, data, ascii_only) + data.draw(WHITESPACE)
    spans = statement_spans(text)
    expected = [body] if as_object else body
    assert [s.index for s in spans] == list(range(len(expected)))
    for span, statement in zip(spans, expected, strict=True):
        piece = sliced(text, span.start, span.end)
        assert piece == text[span.start_offset : span.end_offset]
        assert piece[0] == "{" and piece[-1] == "}"
        assert json.loads(piece) == statement
        assert span.start == position_at(text, span.start_offset)
        assert span.end == position_at(text, span.end_offset - 1)


@settings(max_examples=60, deadline=None)
@given(
    effects=st.lists(st.sampled_from(["Allow", "Deny"]), min_size=1, max_size=5),
    indent=st.one_of(st.none(), st.integers(0, 4), st.just("\t")),
)
def test_one_span_per_parsed_statement(effects, indent):
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{i}", "Effect": e, "Action": "iam:GetUser", "Resource": "*"}
            for i, e in enumerate(effects)
        ],
    }
    text = json.dumps(doc, indent=indent)
    policy = parse_policy(text)
    spans = statement_spans(text)
    assert len(spans) == len(policy.statements)
    for span, statement in zip(spans, policy.statements, strict=True):
        assert json.loads(text[span.start_offset : span.end_offset])["Sid"] == statement.sid
