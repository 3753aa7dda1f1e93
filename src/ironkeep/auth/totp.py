"""Virtual MFA devices: RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s steps, T0 = 0), as AWS uses it.

Pure: the clock comes in as ``now``, the device's state (its seed, the last step it accepted and
its clock drift) comes in as arguments, and the accepted step goes back to the caller to store.

- :func:`verify` accepts a code within ``window`` steps of ``now`` (shifted by the device's stored
  ``drift``) and returns the step it matched. The caller stores that step; a later code whose step
  is ``<= last_used_step`` is refused, so a code cannot be replayed.
- :func:`verify_two_consecutive` serves EnableMFADevice and ResyncMFADevice: the two codes must be
  consecutive steps, searched in a wider window; the returned step gives the drift to store.

Bad codes raise :class:`InvalidAuthenticationCode` (IAM's 403). STS calls (AssumeRole,
GetSessionToken) answer the same failure with ``AccessDenied`` and :data:`STS_INVALID_CODE_MESSAGE`.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import UTC, datetime
from urllib.parse import quote

import pyotp

from ironkeep.errors import AWSError

STEP_SECONDS = 30
DIGITS = 6
SEED_BYTES = 40
"""AWS's seeds are 64 Base32 characters: 40 random bytes (320 bits, above RFC 4226's 160)."""
RESYNC_WINDOW = 10
"""Steps searched either side of ``now`` by EnableMFADevice and ResyncMFADevice (AWS does not say)."""

INVALID_CODE_MESSAGE = "Authentication code for device is not valid."
STS_INVALID_CODE_MESSAGE = "MultiFactorAuthentication failed with invalid MFA one time pass code."
STS_MISSING_CODE_MESSAGE = (
    "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
)


class InvalidAuthenticationCode(AWSError):
    """EnableMFADevice / ResyncMFADevice: a code is wrong, stale, replayed or not consecutive."""

    code = "InvalidAuthenticationCode"
    status = 403

    def __init__(self, message: str = INVALID_CODE_MESSAGE) -> None:
        super().__init__(message)


def new_seed() -> str:
    """A fresh Base32 seed (A-Z2-7, no padding): 64 characters, as AWS issues them."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii")


def time_step(when: datetime) -> int:
    """RFC 6238's T: whole 30-second steps since the Unix epoch."""
    return int(_aware(when).timestamp()) // STEP_SECONDS


def code_for_step(seed: str, step: int, *, digits: int = DIGITS) -> str:
    """The code for one time step (RFC 4226 HOTP with the step as counter)."""
    return pyotp.TOTP(seed, digits=digits, interval=STEP_SECONDS).generate_otp(step)


def code_at(seed: str, when: datetime, *, digits: int = DIGITS) -> str:
    """The code an authenticator app shows at ``when``."""
    return code_for_step(seed, time_step(when), digits=digits)


def otpauth_uri(seed: str, device_name: str, account_name: str, *, issuer: str | None = None) -> str:
    """The QR payload AWS documents: ``otpauth://totp/$virtualMFADeviceName@$AccountName?secret=$Base32String``.

    ``account_name`` is the user's name if known, otherwise the account ID. The console adds
    ``&issuer=Amazon Web Services``; pass ``issuer`` to do the same.
    """
    label = quote(f"{device_name}@{account_name}", safe="@")
    uri = f"otpauth://totp/{label}?secret={seed}"
    if issuer is not None:
        uri += "&issuer=" + quote(issuer, safe="")
    return uri


def verify(
    seed: str,
    code: str,
    now: datetime,
    *,
    window: int = 1,
    last_used_step: int | None = None,
    drift: int = 0,
) -> int:
    """Check ``code`` against the steps ``now + drift ± window``; return the step it matched.

    A step at or before ``last_used_step`` is refused (replay). The earliest matching step wins,
    so a code is never matched "ahead" when it is also valid for the current step.
    """
    _check_format(code)
    centre = time_step(now) + drift
    for step in range(max(0, centre - window), centre + window + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(code_for_step(seed, step), code):
            return step
    raise InvalidAuthenticationCode()


def verify_two_consecutive(
    seed: str,
    code1: str,
    code2: str,
    now: datetime,
    *,
    window: int = RESYNC_WINDOW,
    last_used_step: int | None = None,
) -> int:
    """EnableMFADevice / ResyncMFADevice: ``code1`` and ``code2`` are the codes of two consecutive
    steps near ``now``. Return the step of ``code2``; ``step - time_step(now)`` is the drift to store.
    """
    _check_format(code1)
    _check_format(code2)
    centre = time_step(now)
    for step in range(max(0, centre - window), centre + window + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(code_for_step(seed, step), code1) and hmac.compare_digest(
            code_for_step(seed, step + 1), code2
        ):
            return step + 1
    raise InvalidAuthenticationCode()


def _check_format(code: str) -> None:
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        raise InvalidAuthenticationCode()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
