"""charging sessions by EVSE and start (the uptime ledger reads a port's sessions)

Revision ID: 5b7e2c9d4a10
Revises: 0e78bff6b38b
Create Date: 2026-12-01 19:20:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = "5b7e2c9d4a10"
down_revision: str | Sequence[str] | None = "0e78bff6b38b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_charging_sessions_evse_start", ["evse_uid", "start_date_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_charging_sessions_evse_start")
