"""Account settings, delegation requests, token signing keys

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delegation_requests",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("owner_account_id", sa.String(length=12), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegation_requests")),
    )
    with op.batch_alter_table("delegation_requests", schema=None) as batch_op:
        batch_op.create_index("ix_delegation_requests_account", ["account_id"], unique=False)

    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_settings_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_account_settings")),
    )
    op.create_table(
        "token_signing_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_token_signing_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_signing_keys")),
    )
    with op.batch_alter_table("token_signing_keys", schema=None) as batch_op:
        batch_op.create_index("ix_token_signing_keys_account", ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("token_signing_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_token_signing_keys_account")

    op.drop_table("token_signing_keys")
    op.drop_table("account_settings")
    with op.batch_alter_table("delegation_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_delegation_requests_account")

    op.drop_table("delegation_requests")
