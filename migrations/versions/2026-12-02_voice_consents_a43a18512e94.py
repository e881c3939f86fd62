"""voice consents: a speaker's consent recording, per API key, that a cloned voice names

Revision ID: a43a18512e94
Revises: 8c4e1d2a7b35
Create Date: 2026-12-02 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a43a18512e94"
down_revision: str | None = "8c4e1d2a7b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_consents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("audio", sa.LargeBinary(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("speech_seconds", sa.Float(), nullable=False),
        sa.Column("source_filename", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_voice_consents_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_consents")),
    )
    with op.batch_alter_table("voice_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voice_consents_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voice_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_consents_key_id"))

    op.drop_table("voice_consents")
