"""Secrets at rest: AES-256-GCM under a master key, and 0600 files written atomically.

A sealed secret is ``version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``. The
``aad`` binds it to its context (e.g. ``b"access-key:AKIA..."``): a sealed value copied to another
row does not open there.

The master key comes from ``IRONKEEP_MASTER_KEY`` (base64 of 32 bytes) or from ``<data_dir>/master.key``,
created on first use with mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import stat
import warnings
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ironkeep.auth.errors import SealedSecretError

MASTER_KEY_ENV = "IRONKEEP_MASTER_KEY"
MASTER_KEY_FILE = "master.key"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = 1


class InvalidMasterKey(ValueError):
    """The configured master key is not base64 of exactly 32 bytes (a start-up error)."""


class InsecureKeyFileWarning(UserWarning):
    """The master key file can be read by the group or by others."""


class SecretBox:
    """Seal and open secrets with AES-256-GCM and a random 96-bit nonce per seal."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise InvalidMasterKey(f"the master key must be {KEY_BYTES} bytes, not {len(master_key)}")
        self._aead = AESGCM(master_key)

    def seal(self, plaintext: bytes, *, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return bytes([VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, *, aad: bytes) -> bytes:
        if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES:
            raise SealedSecretError("sealed secret is truncated")
        if sealed[0] != VERSION:
            raise SealedSecretError(f"sealed secret has unknown version {sealed[0]}")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise SealedSecretError(
                "sealed secret does not open: wrong master key, wrong context or corrupt data"
            ) from None


def decode_master_key(text: str) -> bytes:
    """Base64 (standard or URL-safe alphabet) of exactly 32 bytes."""
    cleaned = "".join(text.split())
    try:
        key = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMasterKey(f"the master key is not valid base64 ({MASTER_KEY_ENV})") from None
    if len(key) != KEY_BYTES:
        raise InvalidMasterKey(f"the master key must decode to {KEY_BYTES} bytes, not {len(key)}")
    return key


def encode_master_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def load_or_create_master_key(data_dir: Path, env_value: str | None) -> bytes:
    """The master key from ``env_value`` if set, else from ``data_dir/master.key`` (created if absent).

    A key file readable by group or others is used, with an InsecureKeyFileWarning.
    """
    if env_value:
        return decode_master_key(env_value)
    path = Path(data_dir) / MASTER_KEY_FILE
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _publish_new_file(path, (encode_master_key(secrets.token_bytes(KEY_BYTES)) + "\n").encode("ascii"))
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"{path} is accessible to group or others (mode {mode:04o}); run: chmod 600 {path}",
            InsecureKeyFileWarning,
            stacklevel=2,
        )
    return decode_master_key(path.read_text(encoding="ascii"))


def write_secret_file(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` with mode 0600, atomically (replacing any previous file)."""
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    temporary = _write_private_temporary(path, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _publish_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` and mode 0600 unless it exists; no reader sees it half-written."""
    temporary = _write_private_temporary(path, data)
    try:
        os.link(temporary, path)  # atomic, and never replaces: a concurrent creator's key wins
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)


def _write_private_temporary(path: Path, data: bytes) -> Path:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    os.close(fd)
    return temporary
