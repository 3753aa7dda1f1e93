"""IAM's entities as plain, frozen values: what the store returns and the services render.

Times are aware UTC datetimes. Ids are AWS's unique ids (``AIDA…`` users, ``AROA…`` roles,
``AGPA…`` groups, ``ANPA…`` policies, ``AIPA…`` instance profiles); ARNs are kept with each
entity because IAM fixes them at creation (a renamed user gets a new one).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Literal

# The owners of inline policies, managed-policy attachments and permissions boundaries.
PrincipalKind = Literal["user", "group", "role"]

AWS_ACCOUNT = "aws"  # the account id in the ARN of every AWS-managed policy


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The account password policy, with IAM's defaults for a field the caller leaves out."""

    minimum_password_length: int = 6
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase_characters: bool = False
    require_lowercase_characters: bool = False
    allow_users_to_change_password: bool = False
    max_password_age: int | None = None
    password_reuse_prevention: int | None = None
    hard_expiry: bool | None = None

    @property
    def expire_passwords(self) -> bool:
        return self.max_password_age is not None

    def to_aws(self) -> dict[str, Any]:
        """IAM's ``PasswordPolicy`` members (``ExpirePasswords`` included, unset ones left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[_camel(f.name)] = value
        out["ExpirePasswords"] = self.expire_passwords
        return out

    @classmethod
    def from_aws(cls, data: dict[str, Any]) -> PasswordPolicy:
        known = {_camel(f.name): f.name for f in fields(cls)}
        return cls(**{known[k]: v for k, v in data.items() if k in known and v is not None})


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    alias: str | None
    created: datetime
    password_policy: PasswordPolicy | None
    generation: int  # moves with every write in the account (policy caches key on it)


@dataclass(frozen=True, slots=True)
class Named:
    """What every named IAM entity has: unique id, name (unique in the account regardless of
    case), path, ARN and creation time."""

    account_id: str
    id: str
    name: str
    path: str
    arn: str
    created: datetime


@dataclass(frozen=True, slots=True)
class User(Named):
    permissions_boundary_arn: str | None = None
    password_last_used: datetime | None = None

    kind: ClassVar[PrincipalKind] = "user"


@dataclass(frozen=True, slots=True)
class Group(Named):
    kind: ClassVar[PrincipalKind] = "group"


@dataclass(frozen=True, slots=True)
class Role(Named):
    assume_role_policy: str
    description: str | None
    max_session_duration: int
    permissions_boundary_arn: str | None = None
    last_used: datetime | None = None
    last_used_region: str | None = None

    kind: ClassVar[PrincipalKind] = "role"


Principal = User | Group | Role


@dataclass(frozen=True, slots=True)
class ManagedPolicy(Named):
    """A customer-managed policy (``account_id`` is the account) or an AWS-managed one (``aws``)."""

    default_version_id: str
    description: str | None
    updated: datetime
    attachment_count: int = 0
    permissions_boundary_usage_count: int = 0
    is_attachable: bool = True

    @property
    def is_aws_managed(self) -> bool:
        return self.account_id == AWS_ACCOUNT


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    policy_id: str
    version_id: str  # v1, v2, ... never reused within a policy
    document: str
    is_default: bool
    created: datetime


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    owner_kind: PrincipalKind
    owner_id: str
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    name: str
    arn: str


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A long-term key. ``user_id`` is None for the account's root user. The secret stays sealed
    (``ironkeep.auth.secrets.SecretBox``); only authentication opens it."""

    id: str
    account_id: str
    user_id: str | None
    user_name: str | None
    user_path: str | None
    user_arn: str | None
    secret_sealed: bytes
    status: str  # Active | Inactive
    created: datetime
    last_used: datetime | None = None
    last_used_region: str | None = None
    last_used_service: str | None = None
    account_generation: int = 0  # the account's write counter when read (policy caches key on it)

    @property
    def is_root(self) -> bool:
        return self.user_id is None


@dataclass(frozen=True, slots=True)
class LoginProfile:
    user_id: str
    user_name: str
    password_hash: str
    password_reset_required: bool
    created: datetime
    password_changed: datetime
    previous_password_hashes: tuple[str, ...] = ()  # newest first (store.login_profiles.REMEMBERED)


@dataclass(frozen=True, slots=True)
class InstanceProfile(Named):
    roles: tuple[Role, ...] = ()


@dataclass(frozen=True, slots=True)
class MFADevice:
    """A virtual MFA device. ``serial_number`` is its ARN (``arn:aws:iam::ACCT:mfa/PATHNAME``); the
    TOTP seed stays sealed. Assigned to a user (``user_id``), to the root user, or to nobody."""

    account_id: str
    serial_number: str
    name: str
    path: str
    seed_sealed: bytes
    created: datetime
    user_id: str | None = None
    user_name: str | None = None
    user_arn: str | None = None
    assigned_to_root: bool = False
    enabled: datetime | None = None
    last_step: int | None = None  # the TOTP time step last accepted: replays are refused

    @property
    def is_assigned(self) -> bool:
        return self.user_id is not None or self.assigned_to_root
