"""Login profiles: the hashes of a user's earlier passwords

The account password policy's PasswordReusePrevention (1 to 24) keeps IAM users from reusing that
many of their previous passwords; ChangePassword checks the new password against them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_profiles") as batch:
        batch.add_column(sa.Column("previous_password_hashes", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_profiles") as batch:
        batch.drop_column("previous_password_hashes")
