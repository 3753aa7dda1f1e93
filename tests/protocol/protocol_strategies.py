"""Hypothesis strategies that build valid values for any botocore shape.

Strings respect the model's enum, pattern (through the Java→Python translation under test's
sibling, :mod:`ironkeep.protocol.javaregex`) and min/max length; integers their range; lists and
maps their size limits (capped to keep examples small).
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape
from hypothesis import strategies as st

from ironkeep.protocol.javaregex import python_pattern

INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# A pattern that is one character class (or \w, \d) repeated: generate text from that class.
_SIMPLE = re.compile(r"\^?(\[(?:\\.|[^\]\\])*\]|\\[wd])([+*])\$?")


def jlen(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _xml_char(ch: str) -> bool:
    cp = ord(ch)
    return cp in (9, 10, 13) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or cp >= 0x10000


def _any_text(xml_safe: bool) -> st.SearchStrategy[str]:
    chars = st.characters(blacklist_categories=("Cs",))
    if xml_safe:
        chars = chars.filter(_xml_char)
    return st.text(chars, max_size=12) | st.text(string.printable, max_size=12)


# Code points tried for a character class: all of the first 2K, some CJK, some beyond the BMP.
_CANDIDATES = [*range(0x800), *range(0x3000, 0x3100), *range(0x10400, 0x10450), *range(0x1F600, 0x1F650)]


@cache
def _class_alphabet(java_class: str, xml_safe: bool) -> list[str]:
    regex = re.compile(python_pattern(java_class))
    chars = [chr(cp) for cp in _CANDIDATES if regex.fullmatch(chr(cp))]
    return [ch for ch in chars if _xml_char(ch)] if xml_safe else chars


def string_strategy(shape: Shape, xml_safe: bool) -> st.SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    lo = shape.metadata.get("min", 0)
    hi = shape.metadata.get("max")
    pattern = shape.metadata.get("pattern")
    if pattern is None:
        base = _any_text(xml_safe)
        if lo:
            base = st.tuples(base, st.text("abcdefghij", min_size=lo, max_size=lo + 2)).map("".join)
    else:
        simple = _SIMPLE.fullmatch(pattern)
        if simple:
            alphabet = st.sampled_from(_class_alphabet(simple.group(1), xml_safe))
            least = max(lo, 1 if simple.group(2) == "+" else 0)
            base = st.text(alphabet, min_size=least, max_size=least + 12)
        else:
            base = st.from_regex(re.compile(python_pattern(pattern)), fullmatch=True)
    if hi is not None or lo:
        base = base.filter(lambda s: lo <= jlen(s) and (hi is None or jlen(s) <= hi))
    if xml_safe:
        base = base.filter(lambda s: all(_xml_char(ch) for ch in s))
    return base


def value_strategy(shape: Shape, *, xml_safe: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid values of ``shape``. Nested structures and maps are never empty (botocore's Query
    serializer writes nothing for an empty one, so it could not round-trip)."""
    meta = shape.metadata
    if isinstance(shape, StructureShape):
        required = set(shape.required_members)
        fields = {
            n: value_strategy(m, xml_safe=xml_safe, depth=depth + 1)
            for n, m in shape.members.items()
            if n in required or depth < 4
        }
        strategy = st.fixed_dictionaries(
            {n: s for n, s in fields.items() if n in required},
            optional={n: s for n, s in fields.items() if n not in required},
        )
        return strategy.filter(bool) if depth and shape.members else strategy
    if isinstance(shape, ListShape):
        lo = meta.get("min", 0)
        hi = min(meta.get("max", lo + 3), lo + 3)
        return st.lists(
            value_strategy(shape.member, xml_safe=xml_safe, depth=depth + 1), min_size=lo, max_size=hi
        )
    if isinstance(shape, MapShape):
        lo = max(meta.get("min", 0), 1)
        hi = min(meta.get("max", lo + 2), lo + 2)
        return st.dictionaries(
            string_strategy(shape.key, xml_safe),
            value_strategy(shape.value, xml_safe=xml_safe, depth=depth + 1),
            min_size=lo,
            max_size=hi,
        )
    kind = shape.type_name
    if kind == "string":
        return string_strategy(shape, xml_safe)
    if kind in INT_BOUNDS:
        lo, hi = INT_BOUNDS[kind]
        return st.integers(meta.get("min", lo), meta.get("max", hi))
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(
            min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
        )
    if kind == "blob":
        return st.binary(max_size=24)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    raise NotImplementedError(kind)
