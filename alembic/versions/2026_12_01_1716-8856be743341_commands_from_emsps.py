"""commands from eMSPs

Revision ID: 8856be743341
Revises: 6ee9ff98ad6f
Create Date: 2026-12-01 17:16:05.199810
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "8856be743341"
down_revision: str | Sequence[str] | None = "6ee9ff98ad6f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("response", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("response_message", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("response_url", sa.Text(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("location_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("evse_uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("connector_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("ocpp_evse_id", sa.Integer(), nullable=True),
        sa.Column("ocpp_connector_id", sa.Integer(), nullable=True),
        sa.Column("token_country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("token_party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("token_uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("token_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column(
            "authorization_reference", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True
        ),
        sa.Column(
            "session_ref", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ocpp_action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("ocpp_request", sa.JSON(), nullable=True),
        sa.Column("ocpp_answer", sa.JSON(), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("result_message", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_commands_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_ref"],
            ["charging_sessions.id"],
            name=op.f("fk_commands_session_ref_charging_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index("ix_commands_due", ["state", "deadline"], unique=False)
        batch_op.create_index(
            "ix_commands_partner_received", ["partner_id", "received_at"], unique=False
        )
        batch_op.create_index("ix_commands_waiting_at", ["station_id", "state"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index("ix_commands_waiting_at")
        batch_op.drop_index("ix_commands_partner_received")
        batch_op.drop_index("ix_commands_due")

    op.drop_table("commands")
