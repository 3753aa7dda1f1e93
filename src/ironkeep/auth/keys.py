"""AWS-style identifiers and secrets, drawn from the ``secrets`` module.

- Access key ids: ``AKIA`` (long-term, IAM users and root) or ``ASIA`` (temporary, STS), then 16
  characters of base32 (``A-Z2-7``): 20 characters in all.
- Secret access keys: 40 characters of the base64 alphabet (``A-Za-z0-9+/``).
- Unique ids: a four-letter prefix naming the kind of entity, then 17 base32 characters: 21 in all
  (``AIDACKCEVSQ6C2EXAMPLE``).
"""

from __future__ import annotations

import re
import secrets
import string
from enum import StrEnum

BASE32 = string.ascii_uppercase + "234567"
BASE64 = string.ascii_letters + string.digits + "+/"
ACCESS_KEY_ID_LENGTH = 20
SECRET_ACCESS_KEY_LENGTH = 40
UNIQUE_ID_LENGTH = 21


class UniqueIdPrefix(StrEnum):
    """The prefixes AWS gives unique ids, by kind of entity (IAM User Guide, "Unique identifiers")."""

    USER = "AIDA"
    ROLE = "AROA"
    GROUP = "AGPA"
    MANAGED_POLICY = "ANPA"
    POLICY_VERSION = "ANVA"
    INSTANCE_PROFILE = "AIPA"
    PUBLIC_KEY = "APKA"
    CERTIFICATE = "ASCA"
    BEARER_TOKEN = "ABIA"
    CONTEXT_SPECIFIC_CREDENTIAL = "ACCA"
    ACCESS_KEY = "AKIA"
    TEMPORARY_ACCESS_KEY = "ASIA"


ACCESS_KEY_ID_PATTERN = re.compile(r"A[KS]IA[A-Z2-7]{16}")
SECRET_ACCESS_KEY_PATTERN = re.compile(r"[A-Za-z0-9+/]{40}")
UNIQUE_ID_PATTERN = re.compile(r"A[A-Z]{3}[A-Z2-7]{17}")


def _random(alphabet: str, length: int) -> str:
    """``length`` characters drawn uniformly from ``alphabet`` with the kernel's randomness. For an
    alphabet of 2**k characters (IAM's base-32 ids, base-64 secrets), the low k bits of one random
    byte per character: as uniform as ``secrets.choice``, from one system call instead of one per
    character (AssumeRole mints 56 characters per call)."""
    size = len(alphabet)
    if size & (size - 1) == 0 and size <= 256:
        mask = size - 1
        return "".join([alphabet[byte & mask] for byte in secrets.token_bytes(length)])
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_access_key_id(*, temporary: bool = False) -> str:
    """``AKIA…`` for a long-term key, ``ASIA…`` for temporary (STS) credentials."""
    prefix = UniqueIdPrefix.TEMPORARY_ACCESS_KEY if temporary else UniqueIdPrefix.ACCESS_KEY
    return prefix + _random(BASE32, ACCESS_KEY_ID_LENGTH - len(prefix))


def new_secret_access_key() -> str:
    """40 characters of the base64 alphabet: 240 bits of randomness."""
    return _random(BASE64, SECRET_ACCESS_KEY_LENGTH)


def new_unique_id(prefix: UniqueIdPrefix) -> str:
    """A unique id such as ``AIDA…`` (user) or ``AROA…`` (role): 21 characters."""
    return prefix + _random(BASE32, UNIQUE_ID_LENGTH - len(prefix))


def is_temporary_access_key_id(access_key_id: str) -> bool:
    return access_key_id.startswith(UniqueIdPrefix.TEMPORARY_ACCESS_KEY)
