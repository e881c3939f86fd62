"""conversation items keyed by session and item id

Revision ID: 5b1f0c2e7a9d
Revises: 13dae118dd25
Create Date: 2026-11-25 20:35:00.000000

Item ids are the client's (or ours) and unique only within a session. The table held no rows
before realtime sessions were served, so it is made again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1f0c2e7a9d"
down_revision: str | None = "13dae118dd25"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create(id_length: int, primary_key: list[str]) -> None:
    op.create_table(
        "conversation_items",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=id_length), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["realtime_sessions.id"],
            name=op.f("fk_conversation_items_session_id_realtime_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(*primary_key, name=op.f("pk_conversation_items")),
    )
    with op.batch_alter_table("conversation_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_items_session_position", ["session_id", "position"], unique=False
        )


def _drop() -> None:
    with op.batch_alter_table("conversation_items", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_items_session_position")
    op.drop_table("conversation_items")


def upgrade() -> None:
    _drop()
    _create(64, ["session_id", "id"])


def downgrade() -> None:
    _drop()
    _create(40, ["id"])
