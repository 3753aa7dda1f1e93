"""How a virtual MFA device's TOTP seed is kept at rest: the one definition, shared by IAM
(CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice) and STS (AssumeRole and
GetSessionToken with SerialNumber and TokenCode).

The seed (AWS's Base32 text) is sealed with the server's :class:`~ironkeep.auth.secrets.SecretBox`
and bound to the device's serial number: a sealed seed copied to another device's row does not open.
"""

from __future__ import annotations

from ironkeep.auth.secrets import SecretBox


def seed_aad(serial_number: str) -> bytes:
    return f"mfa-seed:{serial_number}".encode()


def seal_seed(box: SecretBox, serial_number: str, seed: str) -> bytes:
    """The sealed form of ``seed`` for the ``mfa_devices.seed_sealed`` column."""
    return box.seal(seed.encode("ascii"), aad=seed_aad(serial_number))


def open_seed(box: SecretBox, serial_number: str, sealed: bytes) -> str:
    """The Base32 seed back from :func:`seal_seed`'s output (SealedSecretError if it does not open)."""
    return box.open(bytes(sealed), aad=seed_aad(serial_number)).decode("ascii")
