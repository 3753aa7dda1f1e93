"""The tables, as SQLAlchemy Core: one schema for SQLite and PostgreSQL.

IAM names are unique regardless of case within an account, so every named entity keeps its name
twice: as given (``name``) and lower-cased (``name_lower``), with a unique index on the latter.
Principals in attachment, inline-policy and tag tables are referred to by ``(kind, id)``.
AWS-managed policies live in a read-only catalogue (``ironkeep.model.aws_policies``), not here:
attachments refer to policies by ARN.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Time = DateTime(timezone=True)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("alias", String(63), nullable=True, unique=True),
    Column("created_at", Time, nullable=False),
    Column("password_policy", Text, nullable=True),
    # bumped by every write in the account: callers' compiled policies are cached against it
    Column("generation", Integer, nullable=False, default=0),
)


def _named(name: str, id_prefix_len: int = 32, name_len: int = 128, *extra: Column) -> Table:
    return Table(
        name,
        metadata,
        Column("id", String(id_prefix_len), primary_key=True),
        Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
        Column("name", String(name_len), nullable=False),
        Column("name_lower", String(name_len), nullable=False),
        Column("path", String(512), nullable=False),
        Column("arn", String(2048), nullable=False),
        Column("created_at", Time, nullable=False),
        *extra,
        UniqueConstraint("account_id", "name_lower", name=f"uq_{name}_account_name"),
    )


users = _named(
    "users",
    32,
    64,
    Column("permissions_boundary_arn", String(2048), nullable=True),
    Column("password_last_used", Time, nullable=True),
)

groups = _named("groups", 32, 128)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(32), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("added_at", Time, nullable=False),
    Index("ix_group_members_user", "user_id"),
)

roles = _named(
    "roles",
    32,
    64,
    Column("assume_role_policy", Text, nullable=False),
    Column("description", String(1000), nullable=True),
    Column("max_session_duration", Integer, nullable=False),
    Column("permissions_boundary_arn", String(2048), nullable=True),
    Column("last_used_at", Time, nullable=True),
    Column("last_used_region", String(32), nullable=True),
)

managed_policies = _named(
    "managed_policies",
    32,
    128,
    Column("description", String(1000), nullable=True),
    Column("default_version_id", String(16), nullable=False),
    Column("next_version", Integer, nullable=False),
    Column("updated_at", Time, nullable=False),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("policy_id", String(32), ForeignKey("managed_policies.id", ondelete="CASCADE"), primary_key=True),
    Column("version_id", String(16), primary_key=True),
    Column("document", Text, nullable=False),
    Column("created_at", Time, nullable=False),
)

# principal_kind: "user" | "group" | "role"
policy_attachments = Table(
    "policy_attachments",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("policy_arn", String(2048), primary_key=True),
    Column("principal_kind", String(8), primary_key=True),
    Column("principal_id", String(32), primary_key=True),
    Column("attached_at", Time, nullable=False),
    Index("ix_policy_attachments_principal", "principal_kind", "principal_id"),
)

inline_policies = Table(
    "inline_policies",
    metadata,
    Column("principal_kind", String(8), primary_key=True),
    Column("principal_id", String(32), primary_key=True),
    Column("name_lower", String(128), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("document", Text, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),  # NULL: root
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Time, nullable=False),
    Column("last_used_at", Time, nullable=True),
    Column("last_used_region", String(32), nullable=True),
    Column("last_used_service", String(64), nullable=True),
    Index("ix_access_keys_user", "user_id"),
)

login_profiles = Table(
    "login_profiles",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("password_hash", String(512), nullable=False),
    Column("password_reset_required", Boolean, nullable=False),
    Column("created_at", Time, nullable=False),
    Column("password_changed_at", Time, nullable=False),
)

instance_profiles = _named("instance_profiles", 32, 128)

instance_profile_roles = Table(
    "instance_profile_roles",
    metadata,
    Column(
        "instance_profile_id", String(32), ForeignKey("instance_profiles.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("role_id", String(32), ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_instance_profile_roles_role", "role_id"),
)

# resource_kind: "user" | "role" | "policy" | "instance-profile" | "mfa" | "oidc-provider" | ...
tags = Table(
    "tags",
    metadata,
    Column("resource_kind", String(32), primary_key=True),
    Column("resource_id", String(2048), primary_key=True),
    Column("key_lower", String(128), primary_key=True),
    Column("key", String(128), nullable=False),
    Column("value", String(256), nullable=False),
)
