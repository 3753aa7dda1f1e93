"""MFA devices, SSH keys, certificates, identity providers, session keys, workloads, audit events, report jobs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_name", sa.String(length=128), nullable=False),
        sa.Column("event_source", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=256), nullable=True),
        sa.Column("access_key_id", sa.String(length=128), nullable=True),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.String(length=128), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_account_time", ["account_id", "event_time", "event_id"], unique=False
        )
        batch_op.create_index("ix_audit_events_key", ["account_id", "access_key_id"], unique=False)
        batch_op.create_index("ix_audit_events_name", ["account_id", "event_name"], unique=False)
        batch_op.create_index("ix_audit_events_username", ["account_id", "username"], unique=False)

    op.create_table(
        "session_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_keys")),
    )
    op.create_table(
        "audit_event_names",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["audit_events.event_id"],
            name=op.f("fk_audit_event_names_event_id_audit_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "kind", "value", name=op.f("pk_audit_event_names")),
    )
    with op.batch_alter_table("audit_event_names", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_names_value", ["kind", "value"], unique=False)

    op.create_table(
        "oidc_providers",
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("client_ids", sa.Text(), nullable=False),
        sa.Column("thumbprints", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_oidc_providers_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("arn", name=op.f("pk_oidc_providers")),
    )
    with op.batch_alter_table("oidc_providers", schema=None) as batch_op:
        batch_op.create_index("ix_oidc_providers_account", ["account_id"], unique=False)

    op.create_table(
        "report_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=2048), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_report_jobs_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_jobs")),
    )
    with op.batch_alter_table("report_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_report_jobs_account_kind", ["account_id", "kind"], unique=False)

    op.create_table(
        "saml_providers",
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("metadata_document", sa.Text(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_saml_providers_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("arn", name=op.f("pk_saml_providers")),
    )
    with op.batch_alter_table("saml_providers", schema=None) as batch_op:
        batch_op.create_index("ix_saml_providers_account", ["account_id"], unique=False)

    op.create_table(
        "server_certificates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_lower", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expiration", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_server_certificates_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_certificates")),
        sa.UniqueConstraint("account_id", "name_lower", name="uq_server_certificates_account_name"),
    )
    op.create_table(
        "service_linked_role_deletions",
        sa.Column("task_id", sa.String(length=512), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_service_linked_role_deletions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_service_linked_role_deletions")),
    )
    op.create_table(
        "workloads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role_arn", sa.String(length=2048), nullable=False),
        sa.Column("instance_profile_arn", sa.String(length=2048), nullable=True),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_workloads_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workloads")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_workloads_token_hash")),
    )
    op.create_table(
        "mfa_devices",
        sa.Column("serial_number", sa.String(length=256), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=226), nullable=False),
        sa.Column("name_lower", sa.String(length=226), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("seed_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("assigned_to_root", sa.Boolean(), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=True),
        sa.Column("drift", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_mfa_devices_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_mfa_devices_user_id_users")),
        sa.PrimaryKeyConstraint("serial_number", name=op.f("pk_mfa_devices")),
        sa.UniqueConstraint("account_id", "name_lower", name="uq_mfa_devices_account_name"),
    )
    with op.batch_alter_table("mfa_devices", schema=None) as batch_op:
        batch_op.create_index("ix_mfa_devices_user", ["user_id"], unique=False)

    op.create_table(
        "service_specific_credentials",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("service_name", sa.String(length=128), nullable=False),
        sa.Column("service_user_name", sa.String(length=200), nullable=False),
        sa.Column("password_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_specific_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_specific_credentials")),
    )
    with op.batch_alter_table("service_specific_credentials", schema=None) as batch_op:
        batch_op.create_index("ix_service_specific_credentials_user", ["user_id"], unique=False)

    op.create_table(
        "signing_certificates",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_signing_certificates_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_signing_certificates_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_signing_certificates")),
    )
    with op.batch_alter_table("signing_certificates", schema=None) as batch_op:
        batch_op.create_index("ix_signing_certificates_user", ["user_id"], unique=False)

    op.create_table(
        "ssh_public_keys",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ssh_public_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssh_public_keys")),
        sa.UniqueConstraint("user_id", "fingerprint", name="uq_ssh_public_keys_user_fingerprint"),
    )


def downgrade() -> None:
    op.drop_table("ssh_public_keys")
    with op.batch_alter_table("signing_certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_signing_certificates_user")

    op.drop_table("signing_certificates")
    with op.batch_alter_table("service_specific_credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_service_specific_credentials_user")

    op.drop_table("service_specific_credentials")
    with op.batch_alter_table("mfa_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_mfa_devices_user")

    op.drop_table("mfa_devices")
    op.drop_table("workloads")
    op.drop_table("service_linked_role_deletions")
    op.drop_table("server_certificates")
    with op.batch_alter_table("saml_providers", schema=None) as batch_op:
        batch_op.drop_index("ix_saml_providers_account")

    op.drop_table("saml_providers")
    with op.batch_alter_table("report_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_report_jobs_account_kind")

    op.drop_table("report_jobs")
    with op.batch_alter_table("oidc_providers", schema=None) as batch_op:
        batch_op.drop_index("ix_oidc_providers_account")

    op.drop_table("oidc_providers")
    with op.batch_alter_table("audit_event_names", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_names_value")

    op.drop_table("audit_event_names")
    op.drop_table("session_keys")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_username")
        batch_op.drop_index("ix_audit_events_name")
        batch_op.drop_index("ix_audit_events_key")
        batch_op.drop_index("ix_audit_events_account_time")

    op.drop_table("audit_events")
