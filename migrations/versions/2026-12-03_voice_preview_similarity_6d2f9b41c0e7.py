"""voice preview similarity: how alike a cloned voice's last preview was to its reference clip

Revision ID: 6d2f9b41c0e7
Revises: a43a18512e94
Create Date: 2026-12-03 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d2f9b41c0e7"
down_revision: str | None = "a43a18512e94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("voice_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preview_similarity", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("preview_model", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("previewed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voice_profiles", schema=None) as batch_op:
        batch_op.drop_column("previewed_at")
        batch_op.drop_column("preview_model")
        batch_op.drop_column("preview_similarity")
