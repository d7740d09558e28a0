"""reservations

Revision ID: e400dd1c1fa1
Revises: 7d12fac5e04b
Create Date: 2026-12-01 17:43:44.200108
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "e400dd1c1fa1"
down_revision: str | Sequence[str] | None = "7d12fac5e04b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("location_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("evse_uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expiry_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "command_ref", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "session_ref", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_reservations_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_ref"],
            ["charging_sessions.id"],
            name=op.f("fk_reservations_session_ref_charging_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reservations_emsp_id", ["partner_id", "reservation_id", "location_id"], unique=False
        )
        batch_op.create_index(
            "ix_reservations_state_expiry", ["state", "expiry_date"], unique=False
        )

    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reservation_expired", sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reservation_ref",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("operator", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key(
            batch_op.f("fk_commands_reservation_ref_reservations"),
            "reservations",
            ["reservation_ref"],
            ["id"],
            ondelete="SET NULL",
        )



def downgrade() -> None:
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_commands_reservation_ref_reservations"), type_="foreignkey"
        )
        batch_op.drop_column("operator")
        batch_op.drop_column("reservation_ref")

    with op.batch_alter_table("charging_sessions", schema=None) as batch_op:
        batch_op.drop_column("reservation_expired")
        batch_op.drop_column("reserved_from")

    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_state_expiry")
        batch_op.drop_index("ix_reservations_emsp_id")

    op.drop_table("reservations")
