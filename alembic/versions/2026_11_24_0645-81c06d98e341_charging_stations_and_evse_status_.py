"""charging stations and evse status history

Revision ID: 81c06d98e341
Revises: f5956abca4f0
Create Date: 2026-11-24 06:45:58.561614
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "81c06d98e341"
down_revision: str | Sequence[str] | None = "f5956abca4f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charging_stations",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("ocpp_version", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("vendor", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("serial_number", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("firmware_version", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("booted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("connected_node", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("station_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("connector_statuses", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_stations")),
        sa.UniqueConstraint("station_id", name=op.f("uq_charging_stations_station_id")),
    )
    with op.batch_alter_table("charging_stations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charging_stations_last_seen_at"), ["last_seen_at"], unique=False
        )

    op.create_table(
        "evse_status_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("evse_ref", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("previous_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("ocpp_status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evse_ref"],
            ["evses.id"],
            name=op.f("fk_evse_status_history_evse_ref_evses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evse_status_history")),
    )
    with op.batch_alter_table("evse_status_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evse_status_history_evse_at", ["evse_ref", "changed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evse_status_history", schema=None) as batch_op:
        batch_op.drop_index("ix_evse_status_history_evse_at")

    op.drop_table("evse_status_history")
    with op.batch_alter_table("charging_stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charging_stations_last_seen_at"))

    op.drop_table("charging_stations")
