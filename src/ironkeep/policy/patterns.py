"""Wildcard patterns and policy variables, compiled once.

AWS's wildcards are ``*`` (any run of characters) and ``?`` (any one character); every other
character is literal, so a policy that says ``arn:aws:s3:::my.bucket+(1)`` means exactly that
text. Three flavours differ in details:

* actions (``s3:Get*``): case-insensitive; ``*`` and ``?`` cross everything.
* resources (``arn:aws:s3:::bucket/*``): case-sensitive. A ``*`` stays inside its colon-separated
  ARN segment, except when it is the last character of a segment, where it "can expand to match
  beyond the colon boundaries" (IAM User Guide, *IAM JSON policy elements: Resource*). ``?`` is
  one character of a segment.
* string conditions (``StringLike``): case-sensitive; ``*`` and ``?`` cross everything.
* ARN conditions (``ArnLike``, ``ArnEquals``): each of the six colon-separated ARN components is
  matched on its own; wildcards in the first five stay in their component, the sixth (the
  resource, which may contain colons) takes the rest.

Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team, 'none'}``, the escapes ``${*}``
``${?}`` ``${$}``) are recognised only in ``2012-10-17`` policies, in Resource and in condition
values. A resolved value is literal text: a ``*`` in a user name is not a wildcard.

A :class:`Template` is a parsed text: pattern pieces and variables. ``Template.resolve`` turns it
into pieces of plain text by looking keys up; an unresolvable variable without a default makes
the whole text unresolvable (``None``), and the element it belongs to does not match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Final

__all__ = [
    "ACTION",
    "ARN",
    "RESOURCE",
    "STRING",
    "Template",
    "Variable",
    "compile_pattern",
    "is_wildcard_free",
    "match_all",
    "parse_template",
]

ACTION: Final = "action"
RESOURCE: Final = "resource"
STRING: Final = "string"
ARN: Final = "arn"

#: A piece of a resolved template: (text, wildcards active?)
Piece = tuple[str, bool]
Matcher = Callable[[str], bool]


class Variable:
    """``${key}`` or ``${key, 'default'}`` inside a policy text."""

    __slots__ = ("default", "key", "name")

    def __init__(self, name: str, default: str | None) -> None:
        self.name = name
        self.key = name.lower()
        self.default = default

    def __repr__(self) -> str:
        return f"Variable({self.name!r}, {self.default!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Variable) and (self.key, self.default) == (other.key, other.default)

    def __hash__(self) -> int:
        return hash((self.key, self.default))


_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_VARIABLE = re.compile(r"\$\{([^{}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s][^,]*?)\s*,\s*'([^']*)'\s*$")


class Template:
    """A text with wildcards and (maybe) variables, parsed once."""

    __slots__ = ("parts", "text", "variables")

    def __init__(self, text: str, parts: tuple[str | Variable | tuple[str], ...]) -> None:
        self.text = text
        # str: pattern text (wildcards active); (str,): literal text; Variable: to resolve
        self.parts = parts
        self.variables = tuple(p for p in parts if isinstance(p, Variable))

    def __repr__(self) -> str:
        return f"Template({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and (self.text, self.parts) == (other.text, other.parts)

    def __hash__(self) -> int:
        return hash(self.text)

    def static_pieces(self) -> tuple[Piece, ...]:
        """The pieces of a template without variables."""
        return tuple((p[0], False) if isinstance(p, tuple) else (p, True) for p in self.parts)  # type: ignore[misc]

    def fill(self, values: Sequence[str]) -> tuple[Piece, ...]:
        """Pieces with the variables replaced, in order, by ``values`` (literal text)."""
        given = iter(values)
        out: list[Piece] = []
        for p in self.parts:
            if isinstance(p, Variable):
                out.append((next(given), False))
            elif isinstance(p, tuple):
                out.append((p[0], False))
            else:
                out.append((p, True))
        return tuple(out)

    def resolve(self, lookup: Callable[[str, str], str | None]) -> tuple[Piece, ...] | None:
        """Pieces with variables replaced via ``lookup(key_lower, name)``; None if one is unknown."""
        out: list[Piece] = []
        for p in self.parts:
            if isinstance(p, Variable):
                value = lookup(p.key, p.name)
                if value is None:
                    if p.default is None:
                        return None
                    value = p.default
                out.append((value, False))
            elif isinstance(p, tuple):
                out.append((p[0], False))
            else:
                out.append((p, True))
        return tuple(out)


def parse_template(text: str, variables: bool) -> Template:
    """Parse ``text``; with ``variables`` false (Version 2008-10-17) ``${...}`` is literal."""
    if not variables or "${" not in text:
        return Template(text, (text,))
    parts: list[str | Variable | tuple[str]] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        inner = m.group(1)
        stripped = inner.strip()
        if stripped in _ESCAPES:
            parts.append((_ESCAPES[stripped],))
        else:
            dm = _DEFAULT.match(inner)
            if dm:
                parts.append(Variable(dm.group(1), dm.group(2)))
            elif stripped and "," not in stripped:
                parts.append(Variable(stripped, None))
            else:  # not a variable AWS recognises: keep it as literal text
                parts.append((m.group(0),))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return Template(text, tuple(parts))


def _translate(pieces: Sequence[Piece], flavour: str) -> str:
    """The regular expression for ``pieces`` (only ``*`` and ``?`` are special)."""
    chars: list[tuple[str, bool]] = [(c, wild) for text, wild in pieces for c in text]
    out: list[str] = []
    n = len(chars)
    colons = 0
    for i, (c, wild) in enumerate(chars):
        if c == ":":
            colons += 1
        if flavour == ARN:
            if wild and c in "*?":
                out.append(("[^:]" if c == "?" else "[^:]*") if colons < 5 else ("." if c == "?" else ".*"))
            else:
                out.append(re.escape(c))
            continue
        if wild and c == "*":
            if flavour == RESOURCE:
                # the last character of a segment may run across colons
                last = i + 1 == n or chars[i + 1][0] == ":"
                out.append(".*" if last else "[^:]*")
            else:
                out.append(".*")
        elif wild and c == "?":
            out.append("[^:]" if flavour == RESOURCE else ".")
        else:
            out.append(re.escape(c))
    return "".join(out)


def is_wildcard_free(pieces: Iterable[Piece]) -> bool:
    return not any(wild and ("*" in text or "?" in text) for text, wild in pieces)


def _classify(pieces: Sequence[Piece], flavour: str) -> tuple[str, str]:
    """("any"|"exact"|"prefix"|"regex", text) for the fast paths."""
    joined = "".join(t for t, _ in pieces)
    if joined and all(w for _, w in pieces) and joined.strip("*") == "":
        return "any", ""
    if is_wildcard_free(pieces):
        return "exact", "".join(t for t, _ in pieces)
    last_text, last_wild = pieces[-1]
    if last_wild and last_text.endswith("*"):
        head = [*pieces[:-1], (last_text[:-1], True)]
        in_last_segment = flavour != ARN or sum(t.count(":") for t, _ in head) >= 5
        if in_last_segment and is_wildcard_free(head):
            return "prefix", "".join(t for t, _ in head)
    return "regex", _translate(pieces, flavour)


@lru_cache(maxsize=8192)
def _compile_cached(pieces: tuple[Piece, ...], flavour: str) -> Matcher:
    if flavour == ACTION:
        pieces = tuple((t.lower(), w) for t, w in pieces)
    kind, text = _classify(pieces, flavour)
    if kind == "any":
        return _always
    if kind == "exact":
        return text.__eq__
    if kind == "prefix":
        return _prefix(text)
    return re.compile(text, re.DOTALL).fullmatch  # type: ignore[return-value]


def _always(_: str) -> bool:
    return True


def _prefix(head: str) -> Matcher:
    def match(value: str) -> bool:
        return value.startswith(head)

    return match


def compile_pattern(pieces: Sequence[Piece], flavour: str) -> Matcher:
    """A predicate for one pattern. Actions must be given lowercased to the predicate."""
    return _compile_cached(tuple(pieces), flavour)


class PatternSet:
    """Several static patterns of one flavour, matched as one: exact set, prefixes, one regex.

    ``fast`` is the same test as one C-level call where it can be (a set's ``__contains__`` or a
    regex's ``fullmatch``); it returns a truthy value rather than a bool.
    """

    __slots__ = ("_fast", "_regexes", "any", "exact", "prefixes", "regex")

    def __init__(self, pieces_list: Iterable[Sequence[Piece]], flavour: str) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        regexes: list[str] = []
        self.any = False
        for pieces in pieces_list:
            if flavour == ACTION:
                pieces = [(t.lower(), w) for t, w in pieces]
            kind, text = _classify(pieces, flavour)
            if kind == "any":
                self.any = True
            elif kind == "exact":
                exact.add(text)
            elif kind == "prefix":
                prefixes.append(text)
            else:
                regexes.append(text)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.regex = (
            re.compile("|".join(f"(?:{r})" for r in regexes), re.DOTALL).fullmatch if regexes else None
        )
        self._regexes = tuple(regexes)
        self._fast: Callable[[str], object] | None = None

    @property
    def fast(self) -> Callable[[str], object]:
        """Built on first use (the engine asks for it; a set of actions never needs it)."""
        if self._fast is None:
            self._fast = self._fastest()
        return self._fast

    def _fastest(self) -> Callable[[str], object]:
        if self.any:
            return _always
        if not self.prefixes and not self._regexes:
            return self.exact.__contains__
        if not self.prefixes and not self.exact and self.regex is not None:
            return self.regex
        if len(self.exact) > _FOLD_EXACT:  # a big set stays a set
            return self.__call__
        every = [
            *map(re.escape, sorted(self.exact)),
            *(re.escape(p) + ".*" for p in self.prefixes),
            *self._regexes,
        ]
        return re.compile("|".join(f"(?:{r})" for r in every), re.DOTALL).fullmatch

    def __call__(self, value: str) -> bool:
        if self.any or value in self.exact:
            return True
        if self.prefixes and value.startswith(self.prefixes):
            return True
        return self.regex is not None and self.regex(value) is not None


# Up to this many exact patterns are folded into the one regex of ``PatternSet.fast``.
_FOLD_EXACT = 16


def match_all(pattern: str, value: str, flavour: str) -> bool:
    """One-off match of a static pattern (no variables)."""
    return compile_pattern(((pattern, True),), flavour)(value)
