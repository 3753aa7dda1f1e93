"""Console passwords: argon2id hashes, and IAM's account password policy rules.

``check_password_policy`` reports which of IAM's rules a password breaks, by their IAM names
(``MinimumPasswordLength``, ``RequireSymbols``, ...); ``enforce_password_policy`` turns a non-empty
report into AWS's ``PasswordPolicyViolation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from ironkeep.auth.errors import PasswordPolicyViolation

# IAM's symbol set (model documentation of PasswordPolicy.RequireSymbols):
# ! @ # $ % ^ & * ( ) _ + - = [ ] { } | '
IAM_SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
DEFAULT_MINIMUM_PASSWORD_LENGTH = 6  # UpdateAccountPasswordPolicy's default
POLICY_RULES = (
    "MinimumPasswordLength",
    "RequireSymbols",
    "RequireNumbers",
    "RequireUppercaseCharacters",
    "RequireLowercaseCharacters",
)


class Argon2idHasher:
    """argon2id hashing with argon2-cffi; the defaults are argon2-cffi's (RFC 9106 low-memory)."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        self._dummy_hash = self._hasher.hash("ironkeep: no such user")

    def hash(self, password: str) -> str:
        """A PHC string (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``) with a random salt."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches; False also for a hash that cannot be read."""
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the hash was made with other parameters (or is unreadable) and should be redone."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def verify_nobody(self, password: str) -> bool:
        """Spend the time of one verification when the user does not exist; always False."""
        self.verify(self._dummy_hash, password)
        return False


def _rule(policy: Mapping[str, Any] | object, name: str, default: Any) -> Any:
    """A policy field by IAM's name, from a mapping or an object (IAM or snake_case attributes)."""
    if isinstance(policy, Mapping):
        value = policy.get(name)
    else:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
        value = getattr(policy, name, getattr(policy, snake, None))
    return default if value is None else value


def check_password_policy(password: str, policy: Mapping[str, Any] | object | None) -> list[str]:
    """The names of the account password policy's rules that ``password`` breaks, in IAM's order.

    ``policy`` carries IAM's ``PasswordPolicy`` fields, as a mapping or an object; ``None`` means
    the account has no password policy, which checks nothing here.
    """
    if policy is None:
        return []
    broken = []
    if len(password) < int(_rule(policy, "MinimumPasswordLength", DEFAULT_MINIMUM_PASSWORD_LENGTH)):
        broken.append("MinimumPasswordLength")
    requirements = {
        "RequireSymbols": lambda c: c in IAM_SYMBOLS,
        "RequireNumbers": lambda c: "0" <= c <= "9",
        "RequireUppercaseCharacters": lambda c: "A" <= c <= "Z",
        "RequireLowercaseCharacters": lambda c: "a" <= c <= "z",
    }
    for name, wanted in requirements.items():
        if _rule(policy, name, False) and not any(wanted(c) for c in password):
            broken.append(name)
    return broken


def enforce_password_policy(password: str, policy: Mapping[str, Any] | object | None) -> None:
    """Raise AWS's PasswordPolicyViolation if the password breaks any rule of the policy."""
    if check_password_policy(password, policy):
        raise PasswordPolicyViolation()
