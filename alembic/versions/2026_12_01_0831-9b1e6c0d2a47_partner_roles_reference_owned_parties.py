"""partner roles reference the parties the partner owns

Revision ID: 9b1e6c0d2a47
Revises: 7d2f4b9a1c3e
Create Date: 2026-12-01 08:31:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9b1e6c0d2a47"
down_revision: str | Sequence[str] | None = "7d2f4b9a1c3e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partner_roles", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_partner_roles_owned_party",
            "partner_parties",
            ["partner_id", "country_code", "party_id"],
            ["partner_id", "country_code", "party_id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("partner_roles", schema=None) as batch_op:
        batch_op.drop_constraint("fk_partner_roles_owned_party", type_="foreignkey")
