"""local authorization lists

Revision ID: 9aa6fa3afda8
Revises: 29b90a53e511
Create Date: 2026-12-01 12:37:48.252197
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "9aa6fa3afda8"
down_revision: str | Sequence[str] | None = "29b90a53e511"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "local_auth_lists",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("station_version", sa.Integer(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("max_entries", sa.Integer(), nullable=True),
        sa.Column("max_items_per_message", sa.Integer(), nullable=True),
        sa.Column("max_bytes_per_message", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("unsupported", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("limits_read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("needs_check", sa.Boolean(), nullable=False),
        sa.Column("needs_full", sa.Boolean(), nullable=False),
        sa.Column("inputs_fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_update_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("last_messages", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["charging_stations.station_id"],
            name=op.f("fk_local_auth_lists_station_id_charging_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_local_auth_lists")),
    )
    op.create_table(
        "local_auth_list_entries",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("entry_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["local_auth_lists.station_id"],
            name=op.f("fk_local_auth_list_entries_station_id_local_auth_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_local_auth_list_entries")),
        sa.UniqueConstraint(
            "station_id", "entry_key", name=op.f("uq_local_auth_list_entries_station_id_entry_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("local_auth_list_entries")
    op.drop_table("local_auth_lists")
