"""chat audio replies

Revision ID: 13dae118dd25
Revises: 342456f29d9d
Create Date: 2026-11-25 19:42:11.688647
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "13dae118dd25"
down_revision: str | None = "342456f29d9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_audio_replies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("voice", sa.String(length=200), nullable=False),
        sa.Column("audio_seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_chat_audio_replies_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_audio_replies")),
    )
    with op.batch_alter_table("chat_audio_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_audio_replies_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_chat_audio_replies_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_audio_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_audio_replies_key_id"))
        batch_op.drop_index(batch_op.f("ix_chat_audio_replies_expires_at"))

    op.drop_table("chat_audio_replies")
