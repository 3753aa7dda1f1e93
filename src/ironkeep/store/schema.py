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

from ironkeep.store.dialect import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Time = UTCDateTime()

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
    # GetPolicy's PermissionsBoundaryUsageCount, and DeletePolicy's check, look principals up by it
    Index("ix_users_boundary", "permissions_boundary_arn", "account_id"),
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
    Index("ix_roles_boundary", "permissions_boundary_arn", "account_id"),
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
    # the hashes of the passwords before this one, newest first (JSON list; PasswordReusePrevention)
    Column("previous_password_hashes", Text, nullable=True),
)

instance_profiles = _named("instance_profiles", 32, 128)

instance_profile_roles = Table(
    "instance_profile_roles",
    metadata,
    Column(
        "instance_profile_id",
        String(32),
        ForeignKey("instance_profiles.id", ondelete="CASCADE"),
        primary_key=True,
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

# ---------------------------------------------------------------------------------------------
# credentials beyond access keys (MFA, SSH, certificates, service-specific credentials)

mfa_devices = Table(
    "mfa_devices",
    metadata,
    Column("serial_number", String(256), primary_key=True),  # arn:aws:iam::ACCT:mfa/PATHNAME
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(226), nullable=False),
    Column("name_lower", String(226), nullable=False),
    Column("path", String(512), nullable=False),
    Column("seed_sealed", LargeBinary, nullable=False),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=True),  # NULL: unassigned
    Column("assigned_to_root", Boolean, nullable=False, default=False),
    Column("enabled_at", Time, nullable=True),
    Column("last_step", Integer, nullable=True),  # TOTP time step last accepted: replays are refused
    Column("drift", Integer, nullable=False, default=0),
    Column("created_at", Time, nullable=False),
    UniqueConstraint("account_id", "name_lower", name="uq_mfa_devices_account_name"),
    Index("ix_mfa_devices_user", "user_id"),
)

ssh_public_keys = Table(
    "ssh_public_keys",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("uploaded_at", Time, nullable=False),
    UniqueConstraint("user_id", "fingerprint", name="uq_ssh_public_keys_user_fingerprint"),
)

signing_certificates = Table(
    "signing_certificates",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.id"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),  # NULL: root
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("uploaded_at", Time, nullable=False),
    Index("ix_signing_certificates_user", "user_id"),
)

server_certificates = _named(
    "server_certificates",
    32,
    128,
    Column("body", Text, nullable=False),
    Column("chain", Text, nullable=True),
    Column("private_key_sealed", LargeBinary, nullable=False),
    Column("expiration", Time, nullable=False),
)

service_specific_credentials = Table(
    "service_specific_credentials",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("service_name", String(128), nullable=False),
    Column("service_user_name", String(200), nullable=False),
    Column("password_sealed", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Time, nullable=False),
    Column("expires_at", Time, nullable=True),  # CredentialAgeDays (API keys)
    Index("ix_service_specific_credentials_user", "user_id"),
)

# ---------------------------------------------------------------------------------------------
# identity providers

oidc_providers = Table(
    "oidc_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("url", String(255), nullable=False),
    Column("client_ids", Text, nullable=False),  # JSON list
    Column("thumbprints", Text, nullable=False),  # JSON list
    Column("created_at", Time, nullable=False),
    Index("ix_oidc_providers_account", "account_id"),
)

saml_providers = Table(
    "saml_providers",
    metadata,
    Column("arn", String(2048), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("metadata_document", Text, nullable=False),
    Column("valid_until", Time, nullable=True),
    Column("created_at", Time, nullable=False),
    Index("ix_saml_providers_account", "account_id"),
)

# ---------------------------------------------------------------------------------------------
# STS: keys that seal session tokens (rotated; old ones kept until their sessions expire)

session_keys = Table(
    "session_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_sealed", LargeBinary, nullable=False),
    Column("created_at", Time, nullable=False),
    Column("retired_at", Time, nullable=True),
)

# workloads that get credentials the way EC2 instances and ECS tasks do
workloads = Table(
    "workloads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("role_arn", String(2048), nullable=False),
    Column("instance_profile_arn", String(2048), nullable=True),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_at", Time, nullable=False),
    Column("revoked_at", Time, nullable=True),
)

# ---------------------------------------------------------------------------------------------
# audit trail (CloudTrail records) and the reports computed from it

audit_events = Table(
    "audit_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("event_time", Time, nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("event_source", String(128), nullable=False),
    Column("username", String(256), nullable=True),
    Column("access_key_id", String(128), nullable=True),
    Column("read_only", Boolean, nullable=False),
    Column("error_code", String(128), nullable=True),
    Column("record", Text, nullable=False),  # the CloudTrail record, JSON
    Index("ix_audit_events_account_time", "account_id", "event_time", "event_id"),
    Index("ix_audit_events_name", "account_id", "event_name"),
    Index("ix_audit_events_key", "account_id", "access_key_id"),
)

audit_event_names = Table(
    "audit_event_names",
    metadata,
    Column("event_id", String(36), ForeignKey("audit_events.event_id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "username" | "resource_type" | "resource_name"
    Column("value", String(2048), primary_key=True),
    Index("ix_audit_event_names_value", "kind", "value"),
)

report_jobs = Table(
    "report_jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(32), nullable=False),  # "credential-report" | "service-last-accessed" | ...
    Column("subject", String(2048), nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", Time, nullable=False),
    Column("completed_at", Time, nullable=True),
    Column("result", Text, nullable=True),
    Index("ix_report_jobs_account_kind", "account_id", "kind"),
)

service_linked_role_deletions = Table(
    "service_linked_role_deletions",
    metadata,
    Column("task_id", String(512), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", Time, nullable=False),
)

# ---------------------------------------------------------------------------------------------
# account-level settings (STS preferences, outbound web identity federation, Organizations
# features ...), delegation requests, and the keys Ironkeep signs outbound web identity tokens with

account_settings = Table(
    "account_settings",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", Time, nullable=False),
)

delegation_requests = Table(
    "delegation_requests",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("account_id", String(12), nullable=False),  # the requestor's account
    Column("owner_account_id", String(12), nullable=True),  # the owner's, once associated
    Column("status", String(32), nullable=False),
    Column("payload", Text, nullable=False),  # JSON: the request's fields as AWS names them
    Column("created_at", Time, nullable=False),
    Column("updated_at", Time, nullable=False),
    Index("ix_delegation_requests_account", "account_id"),
)

token_signing_keys = Table(
    "token_signing_keys",
    metadata,
    Column("id", String(64), primary_key=True),  # the JWK "kid"
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("private_key_sealed", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", Time, nullable=False),
    Column("retired_at", Time, nullable=True),
    Index("ix_token_signing_keys_account", "account_id"),
)
