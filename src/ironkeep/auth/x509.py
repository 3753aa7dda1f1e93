"""X.509 certificates for UploadSigningCertificate and UploadServerCertificate.

Pure checks over PEM text with ``cryptography``; the clock comes in as ``now``. What the store
must add: DuplicateCertificate (same certificate already on a user in the account), quotas, and
server certificate ids (``ASCA…``, from :func:`ironkeep.auth.keys.new_unique_id`).

Errors, with AWS's codes (all 400):

- ``MalformedCertificate``: not a single PEM certificate; a certificate outside its validity
  period; a private key that does not parse; a chain that does not link up. The unparsable,
  expired and chain messages are AWS's observed wording; the not-yet-valid and private key ones
  follow the same style.
- ``KeyPairMismatch``: the private key is not the certificate's.
- ``InvalidCertificate``: a key type or size IAM does not accept (RSA 1024-4096 bits, ECDSA P-256
  or P-384). The messages are Ironkeep's own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from ironkeep.errors import AWSError

PARSE_MESSAGE = "Unable to parse certificate. Please ensure the certificate is in PEM format."
EXPIRED_MESSAGE = (
    "Certificate is no longer valid. The 'Not After' date restriction on the certificate has passed."
)
NOT_YET_VALID_MESSAGE = (
    "Certificate is not yet valid. The 'Not Before' date restriction on the certificate has not been met."
)
PRIVATE_KEY_MESSAGE = (
    "Unable to parse private key. Please ensure the private key is in PEM format and is not encrypted."
)
CHAIN_MESSAGE = (
    "Unable to validate certificate chain. The certificate chain must start with the immediate signing "
    "certificate, followed by any intermediaries in order. The index within the chain of the invalid "
    "certificate is: {index}"
)
MISMATCH_MESSAGE = "The public key certificate and the private key do not match."

MIN_RSA_BITS = 1024
MAX_RSA_BITS = 4096
ACCEPTED_CURVES = {"secp256r1": 256, "secp384r1": 384}
_PEM = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----(?P<body>[A-Za-z0-9+/=\s]*?)-----END (?P=label)-----", re.ASCII
)


class MalformedCertificate(AWSError):
    code = "MalformedCertificate"
    status = 400

    def __init__(self, message: str = PARSE_MESSAGE) -> None:
        super().__init__(message)


class KeyPairMismatch(AWSError):
    code = "KeyPairMismatch"
    status = 400

    def __init__(self, message: str = MISMATCH_MESSAGE) -> None:
        super().__init__(message)


class InvalidCertificate(AWSError):
    code = "InvalidCertificate"
    status = 400


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    certificate: cx509.Certificate
    certificate_id: str
    """Base32 of the SHA-1 of the DER (32 upper-case characters): UploadSigningCertificate's
    ``CertificateId``. The same certificate always gets the same id."""
    sha256_fingerprint: str
    """Upper-case hex, colon-separated, as ``openssl x509 -fingerprint -sha256`` prints it."""
    subject: str
    issuer: str
    serial_number: int
    not_before: datetime
    not_after: datetime
    """ServerCertificateMetadata's ``Expiration``."""
    key_algorithm: str
    """``RSA`` or ``EC`` (another algorithm's class name otherwise)."""
    key_size: int
    body: str
    """The certificate re-encoded as canonical PEM (64-column base64, ``\\n`` line ends)."""


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """An UploadServerCertificate request's certificate, private key and chain, all checked."""

    certificate: CertificateInfo
    private_key: PrivateKeyTypes
    chain: tuple[CertificateInfo, ...]


def parse_certificate(body: str) -> CertificateInfo:
    """Exactly one PEM ``CERTIFICATE`` block (surrounding whitespace allowed)."""
    blocks = list(_pem_blocks(body))
    if len(blocks) != 1 or blocks[0][0] != "CERTIFICATE":
        raise MalformedCertificate()
    return _load(blocks[0][1])


def parse_certificate_chain(text: str) -> tuple[CertificateInfo, ...]:
    """One or more PEM certificates, in order (UploadServerCertificate's ``CertificateChain``)."""
    blocks = list(_pem_blocks(text))
    if not blocks or any(label != "CERTIFICATE" for label, _ in blocks):
        raise MalformedCertificate()
    return tuple(_load(der) for _, der in blocks)


def check_validity(info: CertificateInfo, now: datetime) -> None:
    """MalformedCertificate unless ``not_before <= now <= not_after``."""
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    if now > info.not_after:
        raise MalformedCertificate(EXPIRED_MESSAGE)
    if now < info.not_before:
        raise MalformedCertificate(NOT_YET_VALID_MESSAGE)


def parse_signing_certificate(body: str, now: datetime) -> CertificateInfo:
    """UploadSigningCertificate's ``CertificateBody``: one current certificate with an accepted key."""
    info = parse_certificate(body)
    check_validity(info, now)
    check_key(info.certificate.public_key())
    return info


def parse_server_certificate(
    body: str, private_key: str, chain: str | None, now: datetime
) -> ServerCertificate:
    """UploadServerCertificate: the certificate, its unencrypted private key and optional chain."""
    info = parse_certificate(body)
    check_validity(info, now)
    check_key(info.certificate.public_key())
    key = parse_private_key(private_key)
    if _spki(key.public_key()) != _spki(info.certificate.public_key()):
        raise KeyPairMismatch()
    links = parse_certificate_chain(chain) if chain is not None and chain.strip() else ()
    check_chain(info, links)
    return ServerCertificate(certificate=info, private_key=key, chain=links)


def parse_private_key(text: str) -> PrivateKeyTypes:
    """One unencrypted PEM private key (PKCS#8, PKCS#1 RSA or SEC 1 EC)."""
    blocks = list(_pem_blocks(text, PRIVATE_KEY_MESSAGE))
    if len(blocks) != 1 or blocks[0][0] not in {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}:
        raise MalformedCertificate(PRIVATE_KEY_MESSAGE)
    try:
        key = serialization.load_pem_private_key(text.strip().encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedCertificate(PRIVATE_KEY_MESSAGE) from None
    check_key(key.public_key())
    return key


def check_key(key: PublicKeyTypes) -> None:
    """InvalidCertificate unless RSA of 1024-4096 bits or ECDSA on P-256 or P-384."""
    if isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise InvalidCertificate(
                f"Unsupported RSA key size {key.key_size}: "
                f"the key must be between {MIN_RSA_BITS} and {MAX_RSA_BITS} bits."
            )
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ACCEPTED_CURVES:
            raise InvalidCertificate(
                f"Unsupported elliptic curve {key.curve.name}: the key must use P-256 or P-384."
            )
        return
    raise InvalidCertificate("Unsupported key algorithm: the key must be an RSA or ECDSA key.")


def check_chain(leaf: CertificateInfo, chain: tuple[CertificateInfo, ...]) -> None:
    """Each chain certificate must have issued (and signed) the one before it; the leaf is index 0.

    The error names the 1-based position in the chain of the first certificate that does not.
    """
    child = leaf.certificate
    for index, link in enumerate(chain, start=1):
        parent = link.certificate
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise MalformedCertificate(CHAIN_MESSAGE.format(index=index)) from None
        child = parent


def _pem_blocks(text: str, message: str = PARSE_MESSAGE) -> Iterator[tuple[str, bytes]]:
    """(label, DER) for each PEM block; MalformedCertificate if anything else is in the text."""
    pos = 0
    for match in _PEM.finditer(text):
        if text[pos : match.start()].strip():
            raise MalformedCertificate(message)
        pos = match.end()
        try:
            der = base64.b64decode("".join(match["body"].split()), validate=True)
        except (binascii.Error, ValueError):
            raise MalformedCertificate(message) from None
        yield match["label"], der
    if text[pos:].strip():
        raise MalformedCertificate(message)


def _load(der: bytes) -> CertificateInfo:
    try:
        cert = cx509.load_der_x509_certificate(der)
        key = cert.public_key()
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        serial = cert.serial_number
    except (
        ValueError,
        TypeError,
        KeyError,
        UnsupportedAlgorithm,
        cx509.InvalidVersion,
    ):  # KeyError: odd ASN.1 strings
        raise MalformedCertificate() from None
    sha256 = hashlib.sha256(der).hexdigest().upper()
    size = getattr(key, "key_size", 0)
    if isinstance(key, rsa.RSAPublicKey):
        algorithm = "RSA"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = "EC"
    else:
        algorithm = type(key).__name__
    return CertificateInfo(
        certificate=cert,
        certificate_id=base64.b32encode(hashlib.sha1(der, usedforsecurity=False).digest()).decode("ascii"),
        sha256_fingerprint=":".join(sha256[i : i + 2] for i in range(0, len(sha256), 2)),
        subject=subject,
        issuer=issuer,
        serial_number=serial,
        not_before=not_before,
        not_after=not_after,
        key_algorithm=algorithm,
        key_size=size,
        body=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
