"""UploadSSHPublicKey: OpenSSH and PEM RSA keys, MD5 fingerprints, AWS's two error codes."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from ironkeep.auth import ssh_keys
from ironkeep.auth.ssh_keys import Encoding, InvalidPublicKey, UnrecognizedPublicKeyEncoding
from ironkeep.errors import AWSError

RSA_2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
RSA_3072 = rsa.generate_private_key(public_exponent=65537, key_size=3072).public_key()
RSA_1024 = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()


def openssh(key: object, comment: str = "") -> str:
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()  # type: ignore[attr-defined]
    return f"{line} {comment}".strip()


def spki_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def pkcs1_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()


def reference_fingerprint(key: rsa.RSAPublicKey) -> str:
    """MD5 over cryptography's own OpenSSH blob: independent of the module's encoder."""
    blob = base64.b64decode(openssh(key).split()[1])
    return ":".join(f"{b:02x}" for b in hashlib.md5(blob).digest())


@pytest.mark.parametrize("key", [RSA_2048, RSA_3072], ids=["2048", "3072"])
@pytest.mark.parametrize("form", ["openssh", "openssh-comment", "spki", "pkcs1"])
def test_accepted_forms_give_the_same_key_and_fingerprint(key: rsa.RSAPublicKey, form: str) -> None:
    body = {
        "openssh": openssh(key),
        "openssh-comment": "  " + openssh(key, "alice@example.com laptop") + "\n",
        "spki": spki_pem(key),
        "pkcs1": pkcs1_pem(key),
    }[form]
    parsed = ssh_keys.parse_ssh_public_key(body)
    assert parsed.key.public_numbers() == key.public_numbers()
    assert parsed.bits == key.key_size
    assert parsed.fingerprint == reference_fingerprint(key)
    assert re.fullmatch(r"([0-9a-f]{2}:){15}[0-9a-f]{2}", parsed.fingerprint)
    assert parsed.comment == ("alice@example.com laptop" if form == "openssh-comment" else None)


def test_encodings_round_trip() -> None:
    parsed = ssh_keys.parse_ssh_public_key(pkcs1_pem(RSA_2048))
    assert parsed.encode(Encoding.SSH) == openssh(RSA_2048)
    assert parsed.encode("PEM") == spki_pem(RSA_2048)
    for text in (parsed.encode("SSH"), parsed.encode("PEM")):
        assert ssh_keys.parse_ssh_public_key(text).fingerprint == parsed.fingerprint
    with pytest.raises(UnrecognizedPublicKeyEncoding) as err:
        parsed.encode("DER")
    assert (err.value.code, err.value.status) == ("UnrecognizedPublicKeyEncoding", 400)


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_fingerprint_matches_ssh_keygen(tmp_path) -> None:
    path = tmp_path / "key.pub"
    path.write_text(openssh(RSA_3072, "x") + "\n")
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert f"MD5:{ssh_keys.parse_ssh_public_key(path.read_text()).fingerprint} " in out


def test_short_rsa_key_is_invalid() -> None:
    for body in (openssh(RSA_1024), spki_pem(RSA_1024)):
        with pytest.raises(InvalidPublicKey) as err:
            ssh_keys.parse_ssh_public_key(body)
        assert (err.value.code, err.value.status) == ("InvalidPublicKey", 400)
        assert "2048" in err.value.message


@pytest.mark.parametrize(
    "key",
    [ed25519.Ed25519PrivateKey.generate().public_key(), ec.generate_private_key(ec.SECP256R1()).public_key()],
    ids=["ed25519", "ecdsa"],
)
def test_other_key_types_are_invalid(key: object) -> None:
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()  # type: ignore[attr-defined]
    for body in (openssh(key), pem):
        with pytest.raises(InvalidPublicKey, match="ssh-rsa"):
            ssh_keys.parse_ssh_public_key(body)


def test_ssh_rsa_label_over_another_blob_is_invalid() -> None:
    other = openssh(ed25519.Ed25519PrivateKey.generate().public_key()).split()[1]
    with pytest.raises(InvalidPublicKey):
        ssh_keys.parse_ssh_public_key(f"ssh-rsa {other}")


def _blob(*fields: bytes) -> str:
    return "ssh-rsa " + base64.b64encode(b"".join(len(f).to_bytes(4, "big") + f for f in fields)).decode()


def test_malformed_blobs_are_invalid() -> None:
    n = RSA_2048.public_numbers().n.to_bytes(257, "big")
    e = (65537).to_bytes(3, "big")
    good = _blob(b"ssh-rsa", e, n)
    assert ssh_keys.parse_ssh_public_key(good).key.public_numbers() == RSA_2048.public_numbers()
    bad = [
        _blob(b"ssh-rsa", e),  # n missing
        _blob(b"ssh-rsa", e, n, b"extra"),  # trailing field
        good[:-8],  # truncated
        _blob(b"ssh-rsa", b"\x00" + e, n),  # non-minimal mpint
        _blob(b"ssh-rsa", e, n[1:]),  # negative modulus (top bit set, no leading zero)
        _blob(b"ssh-rsa", (65536).to_bytes(3, "big"), n),  # even exponent
        _blob(b"ssh-rsa", b"", n),
        "ssh-rsa AAAA$$$$",
        "ssh-rsa QUJD",
    ]
    for body in bad:
        with pytest.raises(InvalidPublicKey):
            ssh_keys.parse_ssh_public_key(body)


def test_corrupt_pem_is_invalid() -> None:
    lines = spki_pem(RSA_2048).splitlines()
    lines[1] = lines[1][::-1]  # the ASN.1 header, not modulus bytes
    with pytest.raises(InvalidPublicKey):
        ssh_keys.parse_ssh_public_key("\n".join(lines))


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   \n",
        "hello",
        "AAAAB3NzaC1yc2EAAAADAQABAAABAQ",  # a bare blob without its type
        "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n---- END SSH2 PUBLIC KEY ----",  # RFC 4716
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END RSA PUBLIC KEY-----",
    ],
)
def test_unrecognized_encodings(body: str) -> None:
    with pytest.raises(UnrecognizedPublicKeyEncoding) as err:
        ssh_keys.parse_ssh_public_key(body)
    assert err.value.message == "The public key encoding format is unsupported or unrecognized."


def test_oversized_body_is_refused() -> None:
    with pytest.raises(UnrecognizedPublicKeyEncoding):
        ssh_keys.parse_ssh_public_key(openssh(RSA_2048, "c" * ssh_keys.MAX_BODY_CHARS))


def test_public_key_ids_have_aws_shape() -> None:
    ids = {ssh_keys.new_ssh_public_key_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"APKA[A-Z2-7]{16}", i) for i in ids)


@given(st.text(max_size=300))
def test_arbitrary_text_fails_only_with_aws_errors(body: str) -> None:
    try:
        ssh_keys.parse_ssh_public_key(body)
    except (InvalidPublicKey, UnrecognizedPublicKeyEncoding):
        return
    raise AssertionError("random text parsed as a key")


@given(st.binary(max_size=600))
def test_arbitrary_blobs_fail_only_with_aws_errors(blob: bytes) -> None:
    for body in (
        "ssh-rsa " + base64.b64encode(blob).decode(),
        "-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(blob).decode() + "-----END PUBLIC KEY-----",
    ):
        try:
            ssh_keys.parse_ssh_public_key(body)
        except AWSError as err:
            assert err.code in {"InvalidPublicKey", "UnrecognizedPublicKeyEncoding"}
