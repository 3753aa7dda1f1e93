"""Java regular expressions (the models' ``pattern`` traits) as Python ones.

AWS validates ``pattern`` server-side with ``java.util.regex`` and ``Matcher.matches()``: the
whole value must match. The differences that matter for botocore's models:

* ``\\w``, ``\\d`` and ``\\s`` are ASCII-only in Java; Python's are Unicode. They are spelled out.
* ``\\p{L}``, ``\\p{Z}``, ``\\p{N}`` (Unicode general categories, also two-letter ones such as
  ``\\p{Lu}``, and ``\\P{..}`` for the complement) do not exist in Python's ``re``. They become
  explicit code-point ranges computed from :mod:`unicodedata`, once per category.
* ``\\uXXXX`` takes exactly four hex digits in both languages, so ``\\u10000`` means ``\\u1000``
  followed by ``0`` in both: kept as is. But Java joins an escaped surrogate pair
  (``\\uD800\\uDC00``) into one code point (U+10000); Python would see two lone surrogates, so
  pairs are rewritten as ``\\U00010000``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)
_ASCII_CLASSES = {
    "w": "a-zA-Z0-9_",
    "d": "0-9",
    "s": " \\t\\n\\x0b\\f\\r",
}


@cache
def compile_java(pattern: str) -> re.Pattern[str]:
    """Compile a Java pattern; use ``.fullmatch`` to get ``Matcher.matches()`` semantics."""
    return re.compile(python_pattern(pattern), re.ASCII)


@cache
def python_pattern(pattern: str) -> str:
    """The Python spelling of a Java pattern (see the module docstring)."""
    out: list[str] = []
    in_class = False
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.index("}", i + 3)
                ranges = _category_ranges(_category_name(pattern[i + 3 : end]))
                if nxt == "P" and in_class:
                    raise ValueError(f"\\P{{..}} inside a character class is not supported: {pattern!r}")
                if nxt == "P":
                    out.append("[^" + ranges + "]")
                else:
                    out.append(ranges if in_class else "[" + ranges + "]")
                i = end + 1
                continue
            if nxt == "u":
                pair = _SURROGATE_PAIR.match(pattern, i)
                if pair:  # Java joins an escaped surrogate pair into one code point; Python would not
                    high, low = int(pair.group(1), 16), int(pair.group(2), 16)
                    out.append(_char(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)))
                    i = pair.end()
                    continue
            if nxt in _ASCII_CLASSES:
                chars = _ASCII_CLASSES[nxt]
                out.append(chars if in_class else "[" + chars + "]")
                i += 2
                continue
            if nxt.lower() in _ASCII_CLASSES and not in_class:
                out.append("[^" + _ASCII_CLASSES[nxt.lower()] + "]")
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
            if pattern.startswith("]", i + 1):  # a literal ']' first in the class
                out.append("\\]")
                i += 1
        elif ch == "]" and in_class:
            in_class = False
            out.append(ch)
        elif ch == "[" and in_class:
            out.append("\\[")  # Java's class unions are not used by the models; treat as literal
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _category_name(name: str) -> str:
    for prefix in ("Is", "general_category=", "gc="):
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


@cache
def _category_ranges(category: str) -> str:
    """Code-point ranges (class body syntax) of a one- or two-letter Unicode general category."""
    if len(category) not in (1, 2) or not category.isalpha():
        raise ValueError(f"unsupported Unicode category \\p{{{category}}}")
    width = len(category)
    cat = unicodedata.category
    parts: list[str] = []
    start = -1
    for cp in range(0x110000):
        inside = cat(chr(cp))[:width] == category
        if inside and start < 0:
            start = cp
        elif not inside and start >= 0:
            parts.append(_range(start, cp - 1))
            start = -1
    if start >= 0:
        parts.append(_range(start, 0x10FFFF))
    if not parts:
        raise ValueError(f"unknown Unicode category \\p{{{category}}}")
    return "".join(parts)


def _range(lo: int, hi: int) -> str:
    return _char(lo) if lo == hi else _char(lo) + "-" + _char(hi)


def _char(cp: int) -> str:
    return f"\\U{cp:08x}"
