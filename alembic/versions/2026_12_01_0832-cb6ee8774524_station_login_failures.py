"""station login failures: consecutive and total counts, last failure time and source

Revision ID: cb6ee8774524
Revises: 9b1e6c0d2a47
Create Date: 2026-12-01 08:27:55.296780
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "cb6ee8774524"
down_revision: str | Sequence[str] | None = "9b1e6c0d2a47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charging_stations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auth_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("auth_failures_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("last_auth_failure_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "last_auth_failure_source",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("charging_stations", schema=None) as batch_op:
        batch_op.drop_column("last_auth_failure_source")
        batch_op.drop_column("last_auth_failure_at")
        batch_op.drop_column("auth_failures_total")
        batch_op.drop_column("auth_failures")
