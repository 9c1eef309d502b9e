"""rep labels (learning from the reps) and the model version that judged each message

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_pk', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('value', sa.String(length=64), nullable=False),
        sa.Column('model_value', sa.String(length=64), nullable=True),
        sa.Column('model_score', sa.Float(), nullable=True),
        sa.Column('model_version', sa.String(length=255), nullable=True),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=True),
        sa.Column('subject', sa.Text(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['message_pk'], ['messages.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_labels_message_pk', 'labels', ['message_pk'], unique=False)
    op.create_index('ix_labels_kind_message', 'labels', ['kind', 'message_pk'], unique=False)
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('model_version', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('model_version')
    op.drop_index('ix_labels_kind_message', table_name='labels')
    op.drop_index('ix_labels_message_pk', table_name='labels')
    op.drop_table('labels')
