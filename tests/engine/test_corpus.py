"""The engine's table-driven corpus: one simulate-format case a line in ``corpus/*.jsonl``.

Each case names the AWS documentation page it was checked against. ``expect`` holds the
decision, optionally the statements that decided it (``matched``: every listed statement must be
reported; for an explicit deny, exactly the listed ones when the list is given) and the missing
context keys (``missing_context``: each listed key must be reported), or ``{"error": CODE}``
with an optional ``message_contains`` (the field or document the message must name).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ironkeep.simulate import decide

CORPUS = Path(__file__).parent / "corpus"


def _load() -> list[Any]:
    cases = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                case = json.loads(line)
                marks = (
                    [pytest.mark.xfail(strict=True, reason="engine bug")]
                    if case["name"] in KNOWN_ENGINE_BUGS
                    else []
                )
                cases.append(pytest.param(case, id=f"{path.stem}:{n}:{case['name']}", marks=marks))
    return cases


# Cases the engine gets wrong today (see corpus/ENGINE_BUGS.md). Strict: a fix must remove the name.
KNOWN_ENGINE_BUGS: frozenset[str] = frozenset()

CASES = _load()


def _key(m: dict[str, Any]) -> tuple[str, str | None, str]:
    return (m["policy"], m.get("sid"), m["effect"])


def test_corpus_is_large_and_names_are_unique() -> None:
    names = [c.values[0]["name"] for c in CASES]
    assert len(names) >= 150
    assert len(set(names)) == len(names)
    for c in CASES:
        assert c.values[0]["doc"], c.values[0]["name"]


@pytest.mark.parametrize("case", CASES)
def test_case(case: dict[str, Any]) -> None:
    got = decide(case["request"])
    expect = case["expect"]
    if "error" in expect:
        assert "error" in got, f"expected {expect['error']}, got {got}"
        assert got["error"]["code"] == expect["error"], got
        assert got["error"]["message"]
        assert expect.get("message_contains", "") in got["error"]["message"], got
        return
    assert "error" not in got, got
    assert got["decision"] == expect["decision"], json.dumps(got, indent=1)
    if "matched" in expect:
        want = {_key(m) for m in expect["matched"]}
        have = {_key(m) for m in got["matched"]}
        if expect["decision"] == "ExplicitDeny" or not want:
            assert have == want, got["matched"]
        else:
            assert want <= have, got["matched"]
    if expect["decision"] == "ExplicitDeny":
        assert all(m["effect"] == "Deny" for m in got["matched"]), got["matched"]
    if "missing_context" in expect:
        have_keys = {k.lower() for k in got["missing_context"]}
        for key in expect["missing_context"]:
            assert key.lower() in have_keys, got["missing_context"]
