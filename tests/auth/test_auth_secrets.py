from __future__ import annotations

import base64
import os
import stat
import threading
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ironkeep.auth.errors import SealedSecretError
from ironkeep.auth.secrets import (
    MASTER_KEY_FILE,
    InsecureKeyFileWarning,
    InvalidMasterKey,
    SecretBox,
    load_or_create_master_key,
    write_secret_file,
)
from ironkeep.errors import AWSError

KEY = bytes(range(32))
BOX = SecretBox(KEY)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sealed_layout_is_version_nonce_ciphertext_tag() -> None:
    sealed = BOX.seal(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", aad=b"access-key:AKIAEXAMPLE")
    assert sealed[0] == 1
    assert len(sealed) == 1 + 12 + 40 + 16
    # it is standard AES-256-GCM: the cryptography primitive opens it directly
    plain = AESGCM(KEY).decrypt(sealed[1:13], sealed[13:], b"access-key:AKIAEXAMPLE")
    assert plain == b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def test_nonce_is_fresh_for_every_seal() -> None:
    nonces = {BOX.seal(b"same", aad=b"ctx")[1:13] for _ in range(500)}
    assert len(nonces) == 500


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(max_size=256), aad=st.binary(max_size=64))
def test_open_reverses_seal(plaintext: bytes, aad: bytes) -> None:
    assert BOX.open(BOX.seal(plaintext, aad=aad), aad=aad) == plaintext


def test_wrong_context_or_key_does_not_open() -> None:
    sealed = BOX.seal(b"secret", aad=b"user:alice")
    with pytest.raises(SealedSecretError):
        BOX.open(sealed, aad=b"user:bob")
    with pytest.raises(SealedSecretError):
        SecretBox(bytes(32)).open(sealed, aad=b"user:alice")


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_tampered_byte_is_refused(position: int, flip: int) -> None:
    sealed = bytearray(BOX.seal(b"secret", aad=b"ctx"))
    sealed[position % len(sealed)] ^= flip
    with pytest.raises(SealedSecretError) as error:
        BOX.open(bytes(sealed), aad=b"ctx")
    assert isinstance(error.value, AWSError) and error.value.status == 500


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x01" + bytes(27), b"\x02" + bytes(40)])
def test_truncated_or_unknown_version_is_refused(sealed: bytes) -> None:
    with pytest.raises(SealedSecretError):
        BOX.open(sealed, aad=b"")


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_master_key_must_be_32_bytes(length: int) -> None:
    with pytest.raises(InvalidMasterKey):
        SecretBox(bytes(length))


def test_environment_key_wins_and_writes_nothing(tmp_path: Path) -> None:
    key = os.urandom(32)
    assert load_or_create_master_key(tmp_path, base64.b64encode(key).decode()) == key
    assert load_or_create_master_key(tmp_path, base64.urlsafe_b64encode(key).decode()) == key
    assert not (tmp_path / MASTER_KEY_FILE).exists()


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(bytes(16)).decode(), "AAAA"])
def test_bad_environment_key_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(InvalidMasterKey):
        load_or_create_master_key(tmp_path, value)


def test_key_file_is_created_0600_once_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = load_or_create_master_key(data_dir, None)
        second = load_or_create_master_key(data_dir, "")
    assert first == second and len(first) == 32
    key_file = data_dir / MASTER_KEY_FILE
    assert mode_of(key_file) == 0o600
    assert base64.b64decode(key_file.read_text()) == first
    assert sorted(p.name for p in data_dir.iterdir()) == [MASTER_KEY_FILE]  # no temporaries left


def test_key_file_is_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_master_key(tmp_path, None)
    finally:
        os.umask(old)
    assert mode_of(tmp_path / MASTER_KEY_FILE) == 0o600


def test_concurrent_creators_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        keys.append(load_or_create_master_key(tmp_path, None))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_group_readable_key_file_is_used_with_a_warning(tmp_path: Path) -> None:
    key = load_or_create_master_key(tmp_path, None)
    (tmp_path / MASTER_KEY_FILE).chmod(0o644)
    with pytest.warns(InsecureKeyFileWarning, match="chmod 600"):
        assert load_or_create_master_key(tmp_path, None) == key


def test_corrupt_key_file_is_refused(tmp_path: Path) -> None:
    write_secret_file(tmp_path / MASTER_KEY_FILE, "garbage\n")
    with pytest.raises(InvalidMasterKey):
        load_or_create_master_key(tmp_path, None)


def test_write_secret_file_is_0600_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "root-credentials.json"
    target.write_text("old")
    target.chmod(0o644)
    write_secret_file(target, '{"AccessKeyId": "AKIA..."}')
    assert target.read_text() == '{"AccessKeyId": "AKIA..."}'
    assert mode_of(target) == 0o600
    write_secret_file(target, b"\x00binary")
    assert target.read_bytes() == b"\x00binary"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root-credentials.json"]


def test_write_secret_file_into_a_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_secret_file(tmp_path / "missing" / "file", "x")
