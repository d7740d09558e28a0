"""station call tokens: one-time tokens (hashed) for the internal station-call endpoint

Revision ID: cb9fb9cfa69d
Revises: e3a91c5f7d20
Create Date: 2026-12-01 11:57:18.668008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "cb9fb9cfa69d"
down_revision: str | Sequence[str] | None = "e3a91c5f7d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_call_tokens",
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_station_call_tokens")),
    )
    with op.batch_alter_table("station_call_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_call_tokens_expires_at"), ["expires_at"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("station_call_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_call_tokens_expires_at"))

    op.drop_table("station_call_tokens")
