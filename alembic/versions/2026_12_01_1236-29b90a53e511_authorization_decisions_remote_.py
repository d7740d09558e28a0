"""authorization decisions (audit trail), remote authorizations (15-minute rule), operator token blocks

Revision ID: 29b90a53e511
Revises: 9adf4f7e3ece
Create Date: 2026-12-01 12:36:28.549952
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "29b90a53e511"
down_revision: str | Sequence[str] | None = "9adf4f7e3ece"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authorization_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_id", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("ocpp_action", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("evse_uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("location_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("presented_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("uid_digest", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("token_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("auth_method", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("allowed", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("partner_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("emsp_answer", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("emsp_latency_ms", sa.Float(), nullable=True),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("certificate_status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column(
            "authorization_reference", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True
        ),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_decisions")),
    )
    with op.batch_alter_table("authorization_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorization_decisions_decided_at"), ["decided_at"], unique=False
        )
        batch_op.create_index(
            "ix_authorization_decisions_digest_at", ["uid_digest", "decided_at"], unique=False
        )

    op.create_table(
        "operator_token_blocks",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_token_blocks")),
        sa.UniqueConstraint(
            "country_code",
            "party_id",
            "uid",
            "type",
            name=op.f("uq_operator_token_blocks_country_code_party_id_uid_type"),
        ),
    )
    with op.batch_alter_table("operator_token_blocks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_token_blocks_uid"), ["uid"], unique=False)

    op.create_table(
        "remote_authorizations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("command", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("token_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("location_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("evse_uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column(
            "authorization_reference", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_authorizations")),
    )
    with op.batch_alter_table("remote_authorizations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_remote_authorizations_uid_at", ["uid", "received_at"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("remote_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_remote_authorizations_uid_at")

    op.drop_table("remote_authorizations")
    with op.batch_alter_table("operator_token_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_token_blocks_uid"))

    op.drop_table("operator_token_blocks")
    with op.batch_alter_table("authorization_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_authorization_decisions_digest_at")
        batch_op.drop_index(batch_op.f("ix_authorization_decisions_decided_at"))

    op.drop_table("authorization_decisions")
