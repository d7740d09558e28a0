"""charging profiles set on sessions

Revision ID: 7d12fac5e04b
Revises: 8364758914fd
Create Date: 2026-12-01 17:25:52.172352
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "7d12fac5e04b"
down_revision: str | Sequence[str] | None = "8364758914fd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_charging_profiles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "session_ref", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ocpp_profile_id", sa.BigInteger(), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column(
            "command_ref", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["command_ref"],
            ["commands.id"],
            name=op.f("fk_session_charging_profiles_command_ref_commands"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_session_charging_profiles_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_ref"],
            ["charging_sessions.id"],
            name=op.f("fk_session_charging_profiles_session_ref_charging_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_charging_profiles")),
        sa.UniqueConstraint("session_ref", name=op.f("uq_session_charging_profiles_session_ref")),
    )
    with op.batch_alter_table("session_charging_profiles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_charging_profiles_station", ["station_id", "set_at"], unique=False
        )

    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=sa.VARCHAR(length=20),
            type_=sqlmodel.sql.sqltypes.AutoString(length=32),
            existing_nullable=False,
        )



def downgrade() -> None:
    # The narrower column cannot hold these kinds (PostgreSQL would refuse the change).
    op.execute(
        "DELETE FROM commands WHERE kind IN"
        " ('SET_CHARGING_PROFILE', 'GET_ACTIVE_CHARGING_PROFILE', 'CLEAR_CHARGING_PROFILE')"
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=32),
            type_=sa.VARCHAR(length=20),
            existing_nullable=False,
        )

    with op.batch_alter_table("session_charging_profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_session_charging_profiles_station")

    op.drop_table("session_charging_profiles")
