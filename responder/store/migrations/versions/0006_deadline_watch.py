"""hold bands, deadline escalation and owner notices

messages gains hold_band / hold_rule (which band and rule set a hold, core.cooling),
escalated_at (the deadline watch escalated an unapproved draft) and
deadline_missed_at; the notices table is the outbox of e-mails to the shop owner
(deadline notices, the daily digest), one per (kind, ref, day).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_band', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hold_rule', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('deadline_missed_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_messages_escalated_at', ['escalated_at'], unique=False)
    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('ref', sa.String(length=64), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('message_pk', sa.Integer(), nullable=True),
        sa.Column('to_addr', sa.String(length=320), nullable=False),
        sa.Column('from_addr', sa.String(length=320), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('message_id', sa.String(length=998), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('owner', sa.String(length=255), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('data_at', sa.DateTime(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['message_pk'], ['messages.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'ref', 'day', name='uq_notices_kind_ref_day'),
        sa.UniqueConstraint('message_id'),
    )
    op.create_index('ix_notices_message_pk', 'notices', ['message_pk'], unique=False)
    op.create_index('ix_notices_state', 'notices', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notices_state', table_name='notices')
    op.drop_index('ix_notices_message_pk', table_name='notices')
    op.drop_table('notices')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_escalated_at')
        batch_op.drop_column('deadline_missed_at')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('hold_rule')
        batch_op.drop_column('hold_band')
