"""tokens and token pull cursors

Revision ID: 4c7d2e9a1f05
Revises: cb9fb9cfa69d
Create Date: 2026-12-01 12:22:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "4c7d2e9a1f05"
down_revision: str | Sequence[str] | None = "cb9fb9cfa69d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _string(length: int) -> sa.types.TypeEngine[str]:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("country_code", _string(2), nullable=False),
        sa.Column("party_id", _string(3), nullable=False),
        sa.Column("uid", _string(36), nullable=False),
        sa.Column("type", _string(16), nullable=False),
        sa.Column("contract_id", _string(36), nullable=False),
        sa.Column("visual_number", _string(64), nullable=True),
        sa.Column("issuer", _string(64), nullable=False),
        sa.Column("group_id", _string(36), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("whitelist", _string(16), nullable=False),
        sa.Column("language", _string(2), nullable=True),
        sa.Column("default_profile_type", _string(16), nullable=True),
        sa.Column("energy_contract", sa.JSON(), nullable=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_tokens_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint(
            "country_code",
            "party_id",
            "uid",
            "type",
            name=op.f("uq_tokens_country_code_party_id_uid_type"),
        ),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tokens_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_tokens_partner_id"), ["partner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tokens_uid"), ["uid"], unique=False)

    op.create_table(
        "token_pull_cursors",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("next_url", _string(2000), nullable=True),
        sa.Column("run_date_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_pages", sa.Integer(), nullable=False),
        sa.Column("run_tokens", sa.Integer(), nullable=False),
        sa.Column("run_refused", sa.Integer(), nullable=False),
        sa.Column("completed_date_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", _string(500), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", _string(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_token_pull_cursors_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_token_pull_cursors")),
    )


def downgrade() -> None:
    op.drop_table("token_pull_cursors")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_uid"))
        batch_op.drop_index(batch_op.f("ix_tokens_partner_id"))
        batch_op.drop_index(batch_op.f("ix_tokens_last_updated"))
        batch_op.drop_index(batch_op.f("ix_tokens_contract_id"))
    op.drop_table("tokens")
