"""emaid prefixes and the emaid token type of partners

Revision ID: 9adf4f7e3ece
Revises: 4c7d2e9a1f05
Create Date: 2026-12-01 12:25:42.301192
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "9adf4f7e3ece"
down_revision: str | Sequence[str] | None = "4c7d2e9a1f05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emaid_prefixes",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_emaid_prefixes_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emaid_prefixes")),
        sa.UniqueConstraint("prefix", name=op.f("uq_emaid_prefixes_prefix")),
    )
    with op.batch_alter_table("emaid_prefixes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emaid_prefixes_partner_id"), ["partner_id"], unique=False
        )

    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "emaid_token_type",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="OTHER",  # partners that exist keep the 2.2.1 default
            )
        )



def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("emaid_token_type")

    with op.batch_alter_table("emaid_prefixes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emaid_prefixes_partner_id"))

    op.drop_table("emaid_prefixes")
