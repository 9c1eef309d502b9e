"""conversations (grouping, superseded drafts)

messages.conversation_id (the id of the conversation's first message) and
messages.order_number (what grouping reads); drafts.superseded_by (the message whose
draft answers this one now: the customer wrote again before the reply was sent; the
older draft stays as it was, for the audit trail). Existing messages each start a
conversation of their own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

messages = sa.table("messages", sa.column("id", sa.Integer),
                    sa.column("conversation_id", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('order_number', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_conversation_id'), ['conversation_id'],
                              unique=False)
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_by', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_drafts_superseded_by'), ['superseded_by'],
                              unique=False)
    op.get_bind().execute(sa.update(messages).values(conversation_id=messages.c.id))


def downgrade() -> None:
    # messages of stage "superseded" go back to "rejected" (the older code has no such
    # stage); their drafts and audit trail stay
    op.execute("UPDATE messages SET stage = 'rejected' WHERE stage = 'superseded'")
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drafts_superseded_by'))
        batch_op.drop_column('superseded_by')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_conversation_id'))
        batch_op.drop_column('order_number')
        batch_op.drop_column('conversation_id')
