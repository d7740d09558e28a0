"""partner invitation time and last push error

Revision ID: e3a91c5f7d20
Revises: cb6ee8774524
Create Date: 2026-12-01 12:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "e3a91c5f7d20"
down_revision: str | Sequence[str] | None = "cb6ee8774524"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "push_last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("push_last_error_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("push_last_error_at")
        batch_op.drop_column("push_last_error")
        batch_op.drop_column("invited_at")
