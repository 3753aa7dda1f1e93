"""The audit trail: drop the index on audit_events(account_id, username)

Nothing reads through it (LookupEvents and last-accessed data find a user's records through
audit_event_names, which holds every name a record answers to), and each index costs every
recorded call a B-tree insert.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_username", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_username", "audit_events", ["account_id", "username"])
