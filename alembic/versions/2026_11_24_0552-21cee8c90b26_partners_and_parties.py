"""partners and parties

Revision ID: 21cee8c90b26
Revises:
Create Date: 2026-11-24 05:52:07.040032
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "21cee8c90b26"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parties",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("logo_url", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint(
            "role", "country_code", "party_id", name=op.f("uq_parties_role_country_code_party_id")
        ),
    )
    op.create_table(
        "partners",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("token_encoding", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("inbound_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "pending_inbound_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("outbound_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("versions_url", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partners")),
        sa.UniqueConstraint("inbound_token_hash", name=op.f("uq_partners_inbound_token_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_partners_name")),
        sa.UniqueConstraint(
            "pending_inbound_token_hash", name=op.f("uq_partners_pending_inbound_token_hash")
        ),
    )
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partners_status"), ["status"], unique=False)

    op.create_table(
        "partner_roles",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("business_details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_roles_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_roles")),
        sa.UniqueConstraint(
            "role",
            "country_code",
            "party_id",
            name=op.f("uq_partner_roles_role_country_code_party_id"),
        ),
    )
    with op.batch_alter_table("partner_roles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_roles_partner_id"), ["partner_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("partner_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_roles_partner_id"))

    op.drop_table("partner_roles")
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partners_status"))

    op.drop_table("partners")
    op.drop_table("parties")
