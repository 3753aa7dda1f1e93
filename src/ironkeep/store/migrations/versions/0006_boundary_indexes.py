"""Users and roles: index their permissions boundary's ARN

GetPolicy (and GetPolicyVersion, ListEntitiesForPolicy's counts ...) reports how many principals
of the account use the policy as their permissions boundary; without an index, each such call read
every user and role of the account.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_users_boundary", "users", ["permissions_boundary_arn", "account_id"])
    op.create_index("ix_roles_boundary", "roles", ["permissions_boundary_arn", "account_id"])


def downgrade() -> None:
    op.drop_index("ix_roles_boundary", table_name="roles")
    op.drop_index("ix_users_boundary", table_name="users")
