"""UploadSigningCertificate / UploadServerCertificate checks on certificates made on the fly."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from ironkeep.auth import x509 as ix
from ironkeep.auth.x509 import InvalidCertificate, KeyPairMismatch, MalformedCertificate

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
INTER_KEY = ec.generate_private_key(ec.SECP384R1())
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ex")]
    )


def make_cert(
    subject_key,
    cn: str,
    *,
    issuer_key=None,
    issuer_cn: str | None = None,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
    ca: bool = False,
) -> x509.Certificate:
    signer = issuer_key if issuer_key is not None else subject_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(name(issuer_cn or cn))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key, fmt=serialization.PrivateFormat.PKCS8, password: bytes | None = None) -> str:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode()


CA = make_cert(CA_KEY, "Root CA", ca=True)
INTER = make_cert(INTER_KEY, "Intermediate CA", issuer_key=CA_KEY, issuer_cn="Root CA", ca=True)
LEAF = make_cert(EC_KEY, "www.example.com", issuer_key=INTER_KEY, issuer_cn="Intermediate CA")
SELF_SIGNED = make_cert(RSA_KEY, "alice")


def test_signing_certificate_metadata() -> None:
    info = ix.parse_signing_certificate(pem(SELF_SIGNED), NOW)
    der = SELF_SIGNED.public_bytes(serialization.Encoding.DER)
    assert re.fullmatch(r"[A-Z2-7]{32}", info.certificate_id)
    assert base64.b32decode(info.certificate_id) == SELF_SIGNED.fingerprint(hashes.SHA1())
    assert info.sha256_fingerprint.replace(":", "") == SELF_SIGNED.fingerprint(hashes.SHA256()).hex().upper()
    assert info.subject == "O=Ex,CN=alice" and info.issuer == "O=Ex,CN=alice"
    assert info.not_before == NOW - timedelta(days=1) and info.not_after == NOW + timedelta(days=365)
    assert (info.key_algorithm, info.key_size) == ("RSA", 2048)
    assert info.serial_number == SELF_SIGNED.serial_number
    assert x509.load_pem_x509_certificate(info.body.encode()).public_bytes(serialization.Encoding.DER) == der


def test_same_certificate_same_id_whatever_the_whitespace() -> None:
    text = pem(SELF_SIGNED)
    messy = "\r\n  " + text.replace("\n", "\r\n") + "\n\n"
    a, b = ix.parse_certificate(text), ix.parse_certificate(messy)
    assert a.certificate_id == b.certificate_id
    assert a.body == b.body == text
    assert ix.parse_certificate(pem(CA)).certificate_id != a.certificate_id


@pytest.mark.parametrize(
    "body",
    [
        "",
        "hello",
        base64.b64encode(SELF_SIGNED.public_bytes(serialization.Encoding.DER)).decode(),  # DER without armour
        pem(SELF_SIGNED) + pem(CA),  # two certificates
        pem(SELF_SIGNED) + "trailing words",
        "leading words\n" + pem(SELF_SIGNED),
        key_pem(RSA_KEY),
        pem(SELF_SIGNED).replace("CERTIFICATE", "X509 CERTIFICATE"),
        "-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----",
    ],
)
def test_unparsable_bodies(body: str) -> None:
    with pytest.raises(MalformedCertificate) as err:
        ix.parse_signing_certificate(body, NOW)
    assert (err.value.code, err.value.status) == ("MalformedCertificate", 400)
    assert err.value.message == "Unable to parse certificate. Please ensure the certificate is in PEM format."


def test_validity_period_boundaries() -> None:
    info = ix.parse_certificate(pem(SELF_SIGNED))
    ix.check_validity(info, info.not_before)
    ix.check_validity(info, info.not_after)
    with pytest.raises(
        MalformedCertificate, match="'Not After' date restriction on the certificate has passed"
    ):
        ix.check_validity(info, info.not_after + timedelta(seconds=1))
    with pytest.raises(MalformedCertificate, match="'Not Before'"):
        ix.check_validity(info, info.not_before - timedelta(seconds=1))
    expired = make_cert(
        RSA_KEY, "old", not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)
    )
    with pytest.raises(MalformedCertificate, match="no longer valid"):
        ix.parse_signing_certificate(pem(expired), NOW)
    # A naive `now` is UTC.
    ix.check_validity(info, datetime(2026, 11, 29, 8, 0))


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL]
)
def test_server_certificate_with_chain(fmt) -> None:
    bundle = ix.parse_server_certificate(pem(LEAF), key_pem(EC_KEY, fmt), pem(INTER) + pem(CA), NOW)
    assert bundle.certificate.subject == "O=Ex,CN=www.example.com"
    assert (bundle.certificate.key_algorithm, bundle.certificate.key_size) == ("EC", 256)
    assert [c.subject for c in bundle.chain] == ["O=Ex,CN=Intermediate CA", "O=Ex,CN=Root CA"]
    assert isinstance(bundle.private_key, ec.EllipticCurvePrivateKey)
    # The chain may stop at the intermediate, or be absent.
    assert len(ix.parse_server_certificate(pem(LEAF), key_pem(EC_KEY), pem(INTER), NOW).chain) == 1
    assert ix.parse_server_certificate(pem(SELF_SIGNED), key_pem(RSA_KEY), None, NOW).chain == ()
    assert ix.parse_server_certificate(pem(SELF_SIGNED), key_pem(RSA_KEY), "  \n", NOW).chain == ()


@pytest.mark.parametrize(
    ("chain", "index"),
    [
        (lambda: pem(CA) + pem(INTER), 1),  # wrong order
        (lambda: pem(LEAF) + pem(INTER) + pem(CA), 1),  # leaf repeated at the head of the chain
        (lambda: pem(INTER) + pem(SELF_SIGNED), 2),  # an unrelated certificate after the intermediate
        (lambda: pem(INTER) + pem(make_cert(RSA_KEY, "Root CA", ca=True)), 2),  # right name, wrong key
    ],
)
def test_broken_chain_names_the_position(chain, index: int) -> None:
    with pytest.raises(MalformedCertificate) as err:
        ix.parse_server_certificate(pem(LEAF), key_pem(EC_KEY), chain(), NOW)
    assert err.value.message.startswith(
        "Unable to validate certificate chain. The certificate chain must start"
    )
    assert err.value.message.endswith(f"The index within the chain of the invalid certificate is: {index}")


def test_chain_that_is_not_pem_is_malformed() -> None:
    with pytest.raises(MalformedCertificate, match="Unable to parse certificate"):
        ix.parse_server_certificate(pem(LEAF), key_pem(EC_KEY), "garbage", NOW)


def test_key_pair_mismatch() -> None:
    with pytest.raises(KeyPairMismatch) as err:
        ix.parse_server_certificate(pem(SELF_SIGNED), key_pem(CA_KEY), None, NOW)
    assert (err.value.code, err.value.status) == ("KeyPairMismatch", 400)
    with pytest.raises(KeyPairMismatch):
        ix.parse_server_certificate(pem(LEAF), key_pem(RSA_KEY), None, NOW)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a key",
        pem(SELF_SIGNED),
        key_pem(RSA_KEY) + key_pem(CA_KEY),
        key_pem(RSA_KEY, password=b"secret"),
        key_pem(RSA_KEY).replace("PRIVATE KEY", "EC PRIVATE KEY"),
    ],
)
def test_private_key_must_be_one_unencrypted_pem_key(text: str) -> None:
    with pytest.raises(MalformedCertificate, match="Unable to parse private key"):
        ix.parse_server_certificate(pem(SELF_SIGNED), text, None, NOW)


def test_expired_server_certificate_is_refused_before_the_key_is_looked_at() -> None:
    expired = make_cert(
        RSA_KEY, "old", not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)
    )
    with pytest.raises(MalformedCertificate, match="no longer valid"):
        ix.parse_server_certificate(pem(expired), "not a key", None, NOW)


def test_key_types_and_sizes() -> None:
    for key in (
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        ec.generate_private_key(ec.SECP384R1()),
    ):
        ix.check_key(key.public_key())
    big = rsa.RSAPublicNumbers(65537, (1 << 8191) | 0xF1).public_key()
    with pytest.raises(InvalidCertificate, match="8192"):
        ix.check_key(big)
    p521 = ec.generate_private_key(ec.SECP521R1())
    with pytest.raises(InvalidCertificate, match="secp521r1"):
        ix.parse_signing_certificate(pem(make_cert(p521, "p521")), NOW)
    edkey = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(InvalidCertificate) as err:
        ix.parse_signing_certificate(pem(make_cert(edkey, "ed")), NOW)
    assert (err.value.code, err.value.status) == ("InvalidCertificate", 400)
    with pytest.raises(InvalidCertificate):
        ix.parse_private_key(key_pem(edkey))


@given(st.text(max_size=400))
def test_arbitrary_text_is_malformed(body: str) -> None:
    with pytest.raises(MalformedCertificate):
        ix.parse_certificate(body)


@given(st.binary(max_size=800))
def test_arbitrary_der_is_malformed_or_parses(der: bytes) -> None:
    body = "-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der).decode() + "-----END CERTIFICATE-----\n"
    try:
        ix.parse_certificate(body)
    except MalformedCertificate:
        pass


_DER = SELF_SIGNED.public_bytes(serialization.Encoding.DER)


@given(st.integers(min_value=0, max_value=len(_DER) - 1), st.integers(min_value=1, max_value=255))
def test_corrupted_certificates_fail_only_with_aws_errors(position: int, mask: int) -> None:
    der = bytearray(_DER)
    der[position] ^= mask
    body = (
        "-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(bytes(der)).decode()
        + "-----END CERTIFICATE-----\n"
    )
    try:
        ix.parse_signing_certificate(body, NOW)
    except (MalformedCertificate, InvalidCertificate):
        pass


@given(st.text(max_size=300))
def test_arbitrary_private_keys_and_chains_are_malformed(text: str) -> None:
    with pytest.raises(MalformedCertificate):
        ix.parse_private_key(text)
    with pytest.raises(MalformedCertificate):
        ix.parse_certificate_chain(text)


@given(st.binary(max_size=600), st.sampled_from(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]))
def test_arbitrary_key_der_fails_only_with_aws_errors(der: bytes, label: str) -> None:
    text = f"-----BEGIN {label}-----\n" + base64.encodebytes(der).decode() + f"-----END {label}-----\n"
    with pytest.raises((MalformedCertificate, InvalidCertificate)):
        ix.parse_private_key(text)
