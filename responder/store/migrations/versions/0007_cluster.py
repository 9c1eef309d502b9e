"""cluster workers, inbox leases (fencing)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Two tables for ``responder worker`` ([cluster] enabled, PostgreSQL): the workers
alive (heartbeat) and one lease per inbox with a fencing token that only grows.
They are created on every backend (SQLite too) so the schema is the same
everywhere; only the cluster mode uses them. procrastinate's own job tables are
not made here: ``responder worker`` applies procrastinate's schema once (see
responder/cluster/jobs.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'cluster_workers',
        sa.Column('worker_id', sa.String(length=255), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('worker_id'),
    )
    op.create_table(
        'inbox_leases',
        sa.Column('inbox', sa.String(length=100), nullable=False),
        sa.Column('owner', sa.String(length=255), nullable=True),
        sa.Column('token', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('inbox'),
    )
    op.create_index('ix_inbox_leases_owner', 'inbox_leases', ['owner'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_leases_owner', table_name='inbox_leases')
    op.drop_table('inbox_leases')
    op.drop_table('cluster_workers')
