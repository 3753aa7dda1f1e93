"""The protocol's fast paths agree with the general code they shortcut, on untrusted input too.

Each reference below is the general code as it stood before the fast path was added.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.protocol import query, xml
from ironkeep.protocol.models import operation_model, service_model
from ironkeep.protocol.query import InvalidAction, decode_query

_SPECIAL = re.compile("[&<>\r]|[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def reference_escape(text: str) -> str:
    return _SPECIAL.sub(xml._entity, text)


@given(
    st.one_of(
        st.text(alphabet="ab &<>\r\n\t\x00\x08\x0b\x1f\x7f", max_size=12),
        st.text(max_size=24),
        st.from_regex(r"\A[ -~]*\Z"),
    )
)
@settings(max_examples=1500)
def test_escape_agrees_with_the_regex(text: str) -> None:
    assert xml.escape(text) == reference_escape(text)


def test_string_members_render_as_before() -> None:
    user = {"Path": "/", "UserName": 12, "UserId": "A<&>\r\x01", "Arn": "arn", "CreateDate": 0}
    body = xml.render_response("iam", "GetUser", {"User": user}, "id")
    assert b"<UserName>12</UserName><UserId>A&lt;&amp;&gt;&#13;\xef\xbf\xbd</UserId>" in body


# -- the form's tree


def reference_tree(params: Mapping[str, str], roots: frozenset[str]) -> query._Node:
    root = query._Node()
    for key, value in params.items():
        parts = key.split(".")
        if parts[0] not in roots:
            continue
        node = root
        for part in parts:
            children = node.children
            if children is None:
                children = node.children = {}
            nxt = children.get(part)
            if nxt is None:
                nxt = children[part] = query._Node()
            node = nxt
        node.value = value
    return root


def shape_of(node: query._Node) -> Any:
    children = None if node.children is None else {k: shape_of(v) for k, v in node.children.items()}
    return node.value, children


SEGMENTS = st.sampled_from(["A", "B", "Tags", "member", "1", "2", "01", "", "key", "value", "x.y"])
KEYS = st.lists(SEGMENTS, min_size=1, max_size=4).map(".".join)


@given(st.dictionaries(KEYS, st.text(max_size=3), max_size=8), st.frozensets(SEGMENTS, max_size=4))
@settings(max_examples=1500)
def test_tree_agrees_with_the_general_walk(params: dict[str, str], roots: frozenset[str]) -> None:
    # _input_plan leaves dotted member names out of the roots: no key can reach them
    dotless = frozenset(root for root in roots if "." not in root)
    assert shape_of(query._tree(params, dotless)) == shape_of(reference_tree(params, roots))


# -- the operation look-up


@pytest.mark.parametrize("service", ["iam", "sts"])
def test_known_operations_are_those_of_the_model(service: str) -> None:
    names = sorted(service_model(service).operation_names)
    version = service_model(service).api_version
    for action in [*names, "getUser", "Nope", "GetUser ", "AssumeRole", "CreateUser"]:
        known = operation_model(service, action) is not None
        try:
            decode_query(service, {"Action": action, "Version": version})
        except InvalidAction:
            assert not known, action
        except Exception:  # a validation error: the operation was found
            assert known, action
        else:
            assert known, action
