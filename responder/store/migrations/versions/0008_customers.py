"""customer history, reputation threats per message

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # [{"kind", "cue", "evidence"}] per message (core/threats.py); NULL for mail decided
    # before this revision (store/customers.py looks for threats in those when read)
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('reputation_threats', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('reputation_threats')
