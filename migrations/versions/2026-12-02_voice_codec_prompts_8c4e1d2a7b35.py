"""voice codec prompts: a cloned voice's tokens, mel and speaker embedding per codec engine

Revision ID: 8c4e1d2a7b35
Revises: 5b1f0c2e7a9d
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c4e1d2a7b35"
down_revision: str | None = "5b1f0c2e7a9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_codec_prompts",
        sa.Column("voice_id", sa.String(length=40), nullable=False),
        sa.Column("codec", sa.String(length=100), nullable=False),
        sa.Column("token_ids", sa.LargeBinary(), nullable=False),
        sa.Column("mel", sa.LargeBinary(), nullable=False),
        sa.Column("mel_frames", sa.Integer(), nullable=False),
        sa.Column("mel_bins", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["voice_id"],
            ["voice_profiles.id"],
            name=op.f("fk_voice_codec_prompts_voice_id_voice_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("voice_id", "codec", name=op.f("pk_voice_codec_prompts")),
    )


def downgrade() -> None:
    op.drop_table("voice_codec_prompts")
