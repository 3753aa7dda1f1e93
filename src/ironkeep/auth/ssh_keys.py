"""SSH public keys for UploadSSHPublicKey / GetSSHPublicKey (CodeCommit's SSH keys).

AWS accepts an RSA public key of at least 2048 bits, written either in OpenSSH's one-line form
(``ssh-rsa AAAA… comment``) or in PEM (``BEGIN PUBLIC KEY`` or ``BEGIN RSA PUBLIC KEY``). It
answers with the key's MD5 fingerprint (``7a:1d:…``, what ``ssh-keygen -l -E md5`` prints) and can
return the key in either encoding (GetSSHPublicKey's ``Encoding`` of ``SSH`` or ``PEM``).

- Text in neither encoding: ``UnrecognizedPublicKeyEncoding``.
- A recognised encoding whose key is malformed, not RSA, or shorter than 2048 bits: ``InvalidPublicKey``.

The fingerprint is taken over the key's canonical SSH encoding, so one key has one fingerprint
whichever way it was uploaded (this is what DuplicateSSHPublicKey compares).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ironkeep.errors import AWSError

MIN_RSA_BITS = 2048
MAX_BODY_CHARS = 16384
SSH_RSA = "ssh-rsa"
PUBLIC_KEY_ID_PREFIX = "APKA"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_OPENSSH_LINE = re.compile(
    r"(?P<type>(?:ssh|ecdsa|sk|rsa)-[a-z0-9@.-]+)\s+(?P<blob>\S+)(?:\s+(?P<comment>.*))?", re.S | re.ASCII
)
_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>(?:RSA )?PUBLIC KEY)-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END (?P=label)-----",
    re.ASCII,
)


class InvalidPublicKey(AWSError):
    code = "InvalidPublicKey"
    status = 400


class UnrecognizedPublicKeyEncoding(AWSError):
    code = "UnrecognizedPublicKeyEncoding"
    status = 400

    def __init__(
        self, message: str = "The public key encoding format is unsupported or unrecognized."
    ) -> None:
        super().__init__(message)


MALFORMED_MESSAGE = "The public key is malformed or otherwise invalid."
NOT_RSA_MESSAGE = "The public key must be an ssh-rsa key."
TOO_SHORT_MESSAGE = f"The public key must be at least {MIN_RSA_BITS} bits long."


class Encoding(StrEnum):
    """GetSSHPublicKey's ``Encoding`` (``encodingType`` in the model)."""

    SSH = "SSH"
    PEM = "PEM"


@dataclass(frozen=True, slots=True)
class SSHPublicKey:
    key: rsa.RSAPublicKey
    bits: int
    fingerprint: str
    """MD5 of the SSH wire encoding, as 16 colon-separated lower-case hex pairs."""
    comment: str | None = None

    def encode(self, encoding: Encoding | str) -> str:
        """The key as GetSSHPublicKey returns it for ``Encoding=SSH`` or ``Encoding=PEM``."""
        try:
            chosen = Encoding(encoding)
        except ValueError:
            raise UnrecognizedPublicKeyEncoding() from None
        if chosen is Encoding.SSH:
            return openssh_line(self.key)
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")


def parse_ssh_public_key(body: str) -> SSHPublicKey:
    """Parse UploadSSHPublicKey's ``SSHPublicKeyBody``."""
    text = body.strip()
    if not text or len(body) > MAX_BODY_CHARS:
        raise UnrecognizedPublicKeyEncoding()
    if text.startswith("-----BEGIN"):
        key, comment = _parse_pem(text), None
    else:
        key, comment = _parse_openssh(text)
    bits = key.key_size
    if bits < MIN_RSA_BITS:
        raise InvalidPublicKey(TOO_SHORT_MESSAGE)
    return SSHPublicKey(key=key, bits=bits, fingerprint=md5_fingerprint(key), comment=comment)


def md5_fingerprint(key: rsa.RSAPublicKey) -> str:
    """``ssh-keygen -l -E md5`` without the ``MD5:`` prefix: ``7a:1d:ea:…`` (47 characters)."""
    digest = hashlib.md5(wire_blob(key), usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def wire_blob(key: rsa.RSAPublicKey) -> bytes:
    """RFC 4253's ``ssh-rsa`` public key blob: string "ssh-rsa", mpint e, mpint n."""
    numbers = key.public_numbers()
    return _ssh_string(SSH_RSA.encode()) + _mpint(numbers.e) + _mpint(numbers.n)


def openssh_line(key: rsa.RSAPublicKey) -> str:
    return f"{SSH_RSA} {base64.b64encode(wire_blob(key)).decode('ascii')}"


def new_ssh_public_key_id() -> str:
    """``APKA`` and 16 base32 characters (``APKAEIBAERJR2EXAMPLE``): 20 in all."""
    return PUBLIC_KEY_ID_PREFIX + "".join(secrets.choice(_BASE32) for _ in range(16))


def _parse_openssh(text: str) -> tuple[rsa.RSAPublicKey, str | None]:
    match = _OPENSSH_LINE.fullmatch(text)
    if match is None:
        raise UnrecognizedPublicKeyEncoding()
    key_type, comment = match["type"], match["comment"]
    if key_type != SSH_RSA:
        raise InvalidPublicKey(NOT_RSA_MESSAGE)
    try:
        blob = base64.b64decode(match["blob"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPublicKey(MALFORMED_MESSAGE) from None
    e, n = _read_rsa_blob(blob)
    try:
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise InvalidPublicKey(MALFORMED_MESSAGE) from None
    return key, (comment.strip() or None) if comment else None


def _read_rsa_blob(blob: bytes) -> tuple[int, int]:
    """Strictly read ``string "ssh-rsa", mpint e, mpint n`` with nothing after it."""
    fields: list[bytes] = []
    pos = 0
    while pos < len(blob) and len(fields) < 3:
        if pos + 4 > len(blob):
            break
        length = int.from_bytes(blob[pos : pos + 4], "big")
        pos += 4
        if pos + length > len(blob):
            break
        fields.append(blob[pos : pos + length])
        pos += length
    if len(fields) != 3 or pos != len(blob):
        raise InvalidPublicKey(MALFORMED_MESSAGE)
    if fields[0] != SSH_RSA.encode():
        raise InvalidPublicKey(NOT_RSA_MESSAGE)
    e, n = (_read_mpint(field) for field in fields[1:])
    if e < 3 or e % 2 == 0 or n < 3 or n % 2 == 0 or e >= n:
        raise InvalidPublicKey(MALFORMED_MESSAGE)
    return e, n


def _read_mpint(field: bytes) -> int:
    """A positive RFC 4251 mpint in its minimal form."""
    if not field or field[0] & 0x80:
        raise InvalidPublicKey(MALFORMED_MESSAGE)
    if len(field) > 1 and field[0] == 0 and not field[1] & 0x80:
        raise InvalidPublicKey(MALFORMED_MESSAGE)
    return int.from_bytes(field, "big")


def _parse_pem(text: str) -> rsa.RSAPublicKey:
    if _PEM_BLOCK.fullmatch(text) is None:
        raise UnrecognizedPublicKeyEncoding()
    try:
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidPublicKey(MALFORMED_MESSAGE) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidPublicKey(NOT_RSA_MESSAGE)
    return key


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _mpint(value: int) -> bytes:
    # One byte more than bit_length // 8: a leading 0 exactly when the top bit would be set.
    return _ssh_string(value.to_bytes(value.bit_length() // 8 + 1, "big"))
