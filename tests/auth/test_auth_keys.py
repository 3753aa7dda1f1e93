from __future__ import annotations

import re
from collections import Counter

import pytest

from ironkeep.auth.keys import (
    ACCESS_KEY_ID_PATTERN,
    BASE32,
    BASE64,
    SECRET_ACCESS_KEY_PATTERN,
    UNIQUE_ID_PATTERN,
    UniqueIdPrefix,
    is_temporary_access_key_id,
    new_access_key_id,
    new_secret_access_key,
    new_unique_id,
)

# Examples from AWS's documentation must match the shapes we generate.
AWS_EXAMPLES = {
    "access key id": ("AKIAIOSFODNN7EXAMPLE", ACCESS_KEY_ID_PATTERN),
    "temporary access key id": ("ASIAIOSFODNN7EXAMPLE", ACCESS_KEY_ID_PATTERN),
    "secret access key": ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SECRET_ACCESS_KEY_PATTERN),
    "user unique id": ("AIDACKCEVSQ6C2EXAMPLE", UNIQUE_ID_PATTERN),
    "role unique id": ("AROADBQP57FF2AEXAMPLE", UNIQUE_ID_PATTERN),
}


@pytest.mark.parametrize("name", AWS_EXAMPLES)
def test_aws_documentation_examples_have_our_shape(name: str) -> None:
    example, pattern = AWS_EXAMPLES[name]
    assert pattern.fullmatch(example)


def test_long_term_and_temporary_access_key_ids() -> None:
    long_term, temporary = new_access_key_id(), new_access_key_id(temporary=True)
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", long_term)
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", temporary)
    assert not is_temporary_access_key_id(long_term)
    assert is_temporary_access_key_id(temporary)


def test_secret_access_keys_are_40_base64_characters() -> None:
    keys = [new_secret_access_key() for _ in range(200)]
    assert all(re.fullmatch(r"[A-Za-z0-9+/]{40}", key) for key in keys)
    # every character class of the alphabet turns up across 8,000 draws
    drawn = "".join(keys)
    assert {c.isupper() for c in drawn} == {True, False}
    assert any(c.isdigit() for c in drawn) and any(c in "+/" for c in drawn)


@pytest.mark.parametrize("prefix", list(UniqueIdPrefix))
def test_unique_ids_carry_aws_prefixes(prefix: UniqueIdPrefix) -> None:
    unique_id = new_unique_id(prefix)
    assert len(unique_id) == 21
    assert unique_id.startswith(prefix.value)
    assert re.fullmatch(r"[A-Z2-7]{17}", unique_id[4:])
    assert UNIQUE_ID_PATTERN.fullmatch(unique_id)


def test_prefixes_match_aws_documentation() -> None:
    assert UniqueIdPrefix.USER == "AIDA"
    assert UniqueIdPrefix.ROLE == "AROA"
    assert UniqueIdPrefix.GROUP == "AGPA"
    assert UniqueIdPrefix.MANAGED_POLICY == "ANPA"
    assert UniqueIdPrefix.POLICY_VERSION == "ANVA"
    assert UniqueIdPrefix.INSTANCE_PROFILE == "AIPA"


def test_identifiers_do_not_repeat() -> None:
    drawn = Counter(
        [new_access_key_id() for _ in range(2000)]
        + [new_secret_access_key() for _ in range(2000)]
        + [new_unique_id(UniqueIdPrefix.USER) for _ in range(2000)]
    )
    assert drawn.most_common(1)[0][1] == 1


def test_random_part_uses_the_whole_base32_alphabet() -> None:
    tails = "".join(new_unique_id(UniqueIdPrefix.ROLE)[4:] for _ in range(400))
    assert set(tails) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_every_character_is_about_equally_likely() -> None:
    """Secrets and ids draw each character uniformly from their whole alphabet: over 4,000 secret
    keys (160,000 characters from 64) and 4,000 key ids (64,000 from 32), each character's count is
    within six standard deviations of its expectation (a biased draw, or one that leaves out part
    of the alphabet, lands far outside)."""
    for drawn, alphabet in [
        ("".join(new_secret_access_key() for _ in range(4000)), BASE64),
        ("".join(new_access_key_id()[4:] for _ in range(4000)), BASE32),
    ]:
        counts = Counter(drawn)
        expected = len(drawn) / len(alphabet)
        spread = (expected * (1 - 1 / len(alphabet))) ** 0.5
        assert set(counts) == set(alphabet)
        assert all(abs(counts[c] - expected) < 6 * spread for c in alphabet), counts.most_common()
