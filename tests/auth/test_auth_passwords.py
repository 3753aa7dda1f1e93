from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.auth.errors import PasswordPolicyViolation
from ironkeep.auth.passwords import (
    IAM_SYMBOLS,
    Argon2idHasher,
    check_password_policy,
    enforce_password_policy,
)

# cheap parameters keep the suite fast; production uses the defaults
FAST = Argon2idHasher(time_cost=1, memory_cost=1024, parallelism=1)
STRICT = {
    "MinimumPasswordLength": 12,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
}


def test_hash_is_argon2id_with_a_random_salt() -> None:
    first, second = FAST.hash("correct horse"), FAST.hash("correct horse")
    assert first.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert first != second


@pytest.mark.parametrize("password", ["correct horse", "pässwörd ÿ", "", "a" * 128])
def test_verify_accepts_the_password_and_nothing_else(password: str) -> None:
    stored = FAST.hash(password)
    assert FAST.verify(stored, password)
    assert not FAST.verify(stored, password + " ")
    assert not FAST.verify(stored, password.upper() + "x")


def test_unreadable_hash_does_not_verify_and_needs_rehash() -> None:
    assert not FAST.verify("not a hash", "password")
    assert not FAST.verify("$argon2id$v=19$m=1024,t=1,p=1$AAAA$BBBB", "password")
    assert FAST.needs_rehash("not a hash")


def test_needs_rehash_when_parameters_change() -> None:
    stored = FAST.hash("pw")
    assert not FAST.needs_rehash(stored)
    stronger = Argon2idHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert stronger.needs_rehash(stored)
    assert stronger.verify(stored, "pw")  # old hashes keep working until rehashed


def test_verify_nobody_is_always_false() -> None:
    assert FAST.verify_nobody("ironkeep: no such user") is False


def test_no_policy_checks_nothing() -> None:
    assert check_password_policy("a", None) == []


def test_empty_policy_uses_iam_default_minimum_of_six() -> None:
    assert check_password_policy("abcde", {}) == ["MinimumPasswordLength"]
    assert check_password_policy("abcdef", {}) == []


@pytest.mark.parametrize(
    ("password", "broken"),
    [
        ("Abcdefgh1!xy", []),
        ("Abcdefgh1!x", ["MinimumPasswordLength"]),
        ("Abcdefgh12xy", ["RequireSymbols"]),
        ("Abcdefgh!!xy", ["RequireNumbers"]),
        ("abcdefgh1!xy", ["RequireUppercaseCharacters"]),
        ("ABCDEFGH1!XY", ["RequireLowercaseCharacters"]),
        ("", list(STRICT)),
        ("ÀÉÎõü1!ÀÉÎõü", ["RequireUppercaseCharacters", "RequireLowercaseCharacters"]),
        ("Abcdefghij!\u0661", ["RequireNumbers"]),  # ARABIC-INDIC DIGIT ONE is not 0-9
    ],
)
def test_strict_policy_reports_each_broken_rule(password: str, broken: list[str]) -> None:
    assert check_password_policy(password, STRICT) == broken


@pytest.mark.parametrize("symbol", sorted(IAM_SYMBOLS))
def test_every_iam_symbol_counts(symbol: str) -> None:
    assert check_password_policy(f"abcdef{symbol}", {"RequireSymbols": True}) == []


@pytest.mark.parametrize("other", list('.~"?/\\:;<>,` \t§€'))
def test_other_punctuation_is_not_an_iam_symbol(other: str) -> None:
    assert check_password_policy(f"abcdef{other}", {"RequireSymbols": True}) == ["RequireSymbols"]


def test_symbol_set_is_exactly_iams() -> None:
    assert "".join(sorted(IAM_SYMBOLS)) == "".join(sorted("!@#$%^&*()_+-=[]{}|'"))


def test_policy_as_object_with_snake_case_or_iam_attributes() -> None:
    @dataclass(frozen=True)
    class PasswordPolicy:
        minimum_password_length: int = 8
        require_numbers: bool = True
        require_symbols: bool = False

    assert check_password_policy("abcdefg", PasswordPolicy()) == ["MinimumPasswordLength", "RequireNumbers"]
    iam_named = SimpleNamespace(MinimumPasswordLength=6, RequireUppercaseCharacters=True)
    assert check_password_policy("abcdefg", iam_named) == ["RequireUppercaseCharacters"]


def test_enforce_raises_aws_password_policy_violation() -> None:
    enforce_password_policy("Abcdefgh1!xy", STRICT)
    with pytest.raises(PasswordPolicyViolation) as error:
        enforce_password_policy("short", STRICT)
    assert (error.value.code, error.value.status) == ("PasswordPolicyViolation", 400)
    assert error.value.message == "Password does not conform to the account password policy."


@settings(max_examples=200, deadline=None)
@given(password=st.text(max_size=30), minimum=st.integers(min_value=6, max_value=128))
def test_padding_with_one_of_each_class_satisfies_any_policy(password: str, minimum: int) -> None:
    policy = {**STRICT, "MinimumPasswordLength": minimum}
    padded = password + "Aa1!" + "x" * minimum
    assert check_password_policy(padded, policy) == []
    broken = check_password_policy(password, policy)
    assert ("MinimumPasswordLength" in broken) == (len(password) < minimum)
    assert set(broken) <= set(STRICT)
