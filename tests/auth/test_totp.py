"""Virtual MFA: RFC 6238 test vectors, replay refusal, consecutive codes for EnableMFADevice."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ironkeep.auth import totp
from ironkeep.auth.totp import InvalidAuthenticationCode

RFC_SEED = base64.b32encode(b"12345678901234567890").decode()

# RFC 6238 Appendix B, SHA-1 column (8 digits).
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.mark.parametrize(("seconds", "expected"), RFC_VECTORS)
def test_rfc6238_sha1_vectors(seconds: int, expected: str) -> None:
    assert totp.code_at(RFC_SEED, at(seconds), digits=8) == expected
    # AWS's six-digit codes are the same truncation mod 10**6.
    assert totp.code_at(RFC_SEED, at(seconds)) == expected[-6:]


@pytest.mark.parametrize(("seconds", "expected"), RFC_VECTORS)
def test_verify_accepts_rfc_codes_and_returns_their_step(seconds: int, expected: str) -> None:
    assert totp.verify(RFC_SEED, expected[-6:], at(seconds)) == seconds // 30


def test_new_seed_is_64_base32_characters_and_random() -> None:
    seeds = {totp.new_seed() for _ in range(20)}
    assert len(seeds) == 20
    for seed in seeds:
        assert re.fullmatch(r"[A-Z2-7]{64}", seed)
        assert len(base64.b32decode(seed)) * 8 >= 160


def test_naive_datetimes_are_utc() -> None:
    assert totp.code_at(RFC_SEED, datetime(2009, 2, 13, 23, 31, 30)) == "005924"


def test_window_accepts_neighbouring_steps_only() -> None:
    now = at(1234567890)
    step = totp.time_step(now)
    for offset in (-1, 0, 1):
        code = totp.code_for_step(RFC_SEED, step + offset)
        assert totp.verify(RFC_SEED, code, now) == step + offset
    for offset in (-3, -2, 2, 3):
        code = totp.code_for_step(RFC_SEED, step + offset)
        if code in {totp.code_for_step(RFC_SEED, step + d) for d in (-1, 0, 1)}:
            continue  # a one-in-a-million collision; not what this test is about
        with pytest.raises(InvalidAuthenticationCode):
            totp.verify(RFC_SEED, code, now)
    code = totp.code_for_step(RFC_SEED, step + 2)
    assert totp.verify(RFC_SEED, code, now, window=2) == step + 2


def test_replayed_code_is_refused() -> None:
    seed = totp.new_seed()
    now = at(1_700_000_000)
    code = totp.code_at(seed, now)
    used = totp.verify(seed, code, now)
    with pytest.raises(InvalidAuthenticationCode) as err:
        totp.verify(seed, code, now + timedelta(seconds=5), last_used_step=used)
    assert err.value.code == "InvalidAuthenticationCode"
    assert err.value.status == 403
    assert err.value.message == "Authentication code for device is not valid."
    # The next step's code is still good.
    later = now + timedelta(seconds=30)
    assert totp.verify(seed, totp.code_at(seed, later), later, last_used_step=used) == used + 1


def test_older_step_than_last_used_is_refused_even_inside_window() -> None:
    seed = totp.new_seed()
    now = at(1_700_000_000)
    step = totp.time_step(now)
    previous = totp.code_for_step(seed, step - 1)
    with pytest.raises(InvalidAuthenticationCode):
        totp.verify(seed, previous, now, last_used_step=step)


def test_drift_moves_the_window() -> None:
    seed = totp.new_seed()
    now = at(1_700_000_000)
    step = totp.time_step(now)
    skewed = totp.code_for_step(seed, step + 7)
    with pytest.raises(InvalidAuthenticationCode):
        totp.verify(seed, skewed, now)
    assert totp.verify(seed, skewed, now, drift=7) == step + 7


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "12 456", "١٢٣٤٥٦", "12345\n"])
def test_malformed_codes_are_invalid(bad: str) -> None:
    with pytest.raises(InvalidAuthenticationCode):
        totp.verify(RFC_SEED, bad, at(59))


def test_enable_needs_two_consecutive_codes() -> None:
    seed = totp.new_seed()
    now = at(1_700_000_000)
    step = totp.time_step(now)
    c1, c2 = totp.code_for_step(seed, step - 1), totp.code_for_step(seed, step)
    assert totp.verify_two_consecutive(seed, c1, c2, now) == step
    # Reversed, repeated or with a gap: refused.
    for a, b in [(c2, c1), (c1, c1), (c1, totp.code_for_step(seed, step + 1))]:
        if a == b and a != c1:
            continue
        with pytest.raises(InvalidAuthenticationCode):
            totp.verify_two_consecutive(seed, a, b, now)


def test_resync_finds_drift_within_ten_steps_but_not_beyond() -> None:
    seed = totp.new_seed()
    now = at(1_700_000_000)
    step = totp.time_step(now)
    c1, c2 = totp.code_for_step(seed, step - 9), totp.code_for_step(seed, step - 8)
    accepted = totp.verify_two_consecutive(seed, c1, c2, now)
    assert accepted - step == -8
    # With that drift stored, the device's next code verifies with the narrow window.
    nxt = totp.code_for_step(seed, step - 7)
    assert totp.verify(seed, nxt, now, drift=-8, last_used_step=accepted) == step - 7
    far1, far2 = totp.code_for_step(seed, step + 30), totp.code_for_step(seed, step + 31)
    with pytest.raises(InvalidAuthenticationCode):
        totp.verify_two_consecutive(seed, far1, far2, now)


def test_consecutive_codes_respect_last_used_step() -> None:
    seed = totp.new_seed()
    now = at(1_700_000_000)
    step = totp.time_step(now)
    c1, c2 = totp.code_for_step(seed, step - 1), totp.code_for_step(seed, step)
    with pytest.raises(InvalidAuthenticationCode):
        totp.verify_two_consecutive(seed, c1, c2, now, last_used_step=step)


def test_otpauth_uri_has_aws_form_and_round_trips() -> None:
    seed = totp.new_seed()
    uri = totp.otpauth_uri(seed, "ExampleMFADevice", "Alice")
    assert uri == f"otpauth://totp/ExampleMFADevice@Alice?secret={seed}"
    with_issuer = totp.otpauth_uri(seed, "dev", "123456789012", issuer="Amazon Web Services")
    parts = urlsplit(with_issuer)
    assert (parts.scheme, parts.netloc, unquote(parts.path)) == ("otpauth", "totp", "/dev@123456789012")
    assert parse_qs(parts.query) == {"secret": [seed], "issuer": ["Amazon Web Services"]}


def test_otpauth_uri_escapes_names() -> None:
    uri = totp.otpauth_uri("ABC", "a+b=c,d", "e.f@g")
    path = urlsplit(uri).path
    assert unquote(path) == "/a+b=c,d@e.f@g"
    assert "+" not in path and "," not in path


@given(st.integers(min_value=30, max_value=2**33), st.integers(min_value=-1, max_value=1))
def test_any_code_from_the_window_verifies(seconds: int, offset: int) -> None:
    now = at(seconds)
    step = totp.time_step(now)
    code = totp.code_for_step(RFC_SEED, step + offset)
    accepted = totp.verify(RFC_SEED, code, now)
    assert accepted <= step + offset
    assert totp.code_for_step(RFC_SEED, accepted) == code


def test_window_does_not_reach_before_the_epoch() -> None:
    assert totp.verify(RFC_SEED, totp.code_for_step(RFC_SEED, 0), at(10)) == 0


@given(st.text(max_size=10))
def test_arbitrary_input_never_raises_anything_but_invalid_code(code: str) -> None:
    try:
        step = totp.verify(RFC_SEED, code, at(1_111_111_111))
    except InvalidAuthenticationCode:
        return
    assert totp.code_for_step(RFC_SEED, step) == code
