"""explicit send states: stages sending and uncertain, send owner and start time

Before this revision an interrupted send was only a free-text marker in
drafts.send_error on a message still in stage "approved", and a later run could
overwrite the marker and send the reply a second time (issue 14). This revision
adds drafts.send_owner / drafts.send_started_at and moves such messages into the
explicit stages every sending path checks:

* send_error "sending: outcome not yet known" -> stage "sending", started at the
  draft's last update, owner "legacy" (the next send run looks for the reply in
  the Sent folder and marks it sent, or uncertain for a person to decide);
* send_error "an earlier send was interrupted ..." (the old code's note to a rep)
  -> stage "uncertain".

Each moved message gets an audit event. Downgrade puts the old markers back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

OLD_IN_PROGRESS = "sending: outcome not yet known"
OLD_NOTE_PREFIX = "an earlier send was interrupted"

messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("stage", sa.String),
                    sa.column("updated_at", sa.DateTime))
drafts = sa.table("drafts", sa.column("message_pk", sa.Integer),
                  sa.column("send_error", sa.Text), sa.column("send_owner", sa.String),
                  sa.column("send_started_at", sa.DateTime),
                  sa.column("updated_at", sa.DateTime))
events = sa.table("events", sa.column("message_pk", sa.Integer), sa.column("at", sa.DateTime),
                  sa.column("from_stage", sa.String), sa.column("to_stage", sa.String),
                  sa.column("actor", sa.String), sa.column("action", sa.String),
                  sa.column("reason", sa.Text))


def _now() -> datetime:
    # the store keeps naive UTC (see tables.UTCDateTime)
    return datetime.now(UTC).replace(tzinfo=None)


def upgrade() -> None:
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_owner', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('send_started_at', sa.DateTime(), nullable=True))

    conn = op.get_bind()
    now = _now()
    approved = sa.select(messages.c.id).where(messages.c.stage == "approved")
    in_progress = conn.execute(
        sa.select(drafts.c.message_pk, drafts.c.updated_at)
        .where(drafts.c.send_error == OLD_IN_PROGRESS, drafts.c.message_pk.in_(approved))
    ).all()
    noted = conn.execute(
        sa.select(drafts.c.message_pk)
        .where(drafts.c.send_error.like(OLD_NOTE_PREFIX + "%"),
               drafts.c.message_pk.in_(approved))
    ).scalars().all()
    for pk, started in in_progress:
        conn.execute(sa.update(messages).where(messages.c.id == pk)
                     .values(stage="sending", updated_at=now))
        conn.execute(sa.update(drafts).where(drafts.c.message_pk == pk)
                     .values(send_owner="legacy", send_started_at=started))
        conn.execute(sa.insert(events).values(
            message_pk=pk, at=now, from_stage="approved", to_stage="sending", actor="system",
            action="migrated", reason="an interrupted send (old marker) is now stage 'sending'; "
                                      "the next send run checks the Sent folder"))
    for pk in noted:
        conn.execute(sa.update(messages).where(messages.c.id == pk)
                     .values(stage="uncertain", updated_at=now))
        conn.execute(sa.insert(events).values(
            message_pk=pk, at=now, from_stage="approved", to_stage="uncertain",
            actor="system", action="migrated",
            reason="an interrupted send waiting for a rep is now stage 'uncertain'"))


def downgrade() -> None:
    conn = op.get_bind()
    sending = sa.select(messages.c.id).where(messages.c.stage == "sending")
    uncertain = sa.select(messages.c.id).where(messages.c.stage == "uncertain")
    conn.execute(sa.update(drafts).where(drafts.c.message_pk.in_(sending))
                 .values(send_error=OLD_IN_PROGRESS))
    conn.execute(sa.update(drafts).where(drafts.c.message_pk.in_(uncertain))
                 .values(send_error=OLD_NOTE_PREFIX + " and may have gone out; check the Sent "
                                                      "folder, then run 'responder send "
                                                      "--resend ID' if it did not"))
    conn.execute(sa.update(messages).where(messages.c.stage.in_(["sending", "uncertain"]))
                 .values(stage="approved"))
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_column('send_started_at')
        batch_op.drop_column('send_owner')
