"""backfill partner parties from declared roles, tariff references from connectors

Existing partners keep the parties they declared: each (country_code, party_id) goes to the
partner that declared it first (lowest role id). Roles that another partner declared later for
the same pair (the cross-role claim this revision closes) are deleted, since they could only
ever have been used to read the owner's data.

Revision ID: 7d2f4b9a1c3e
Revises: 51ec830d163c
Create Date: 2026-12-01 08:30:00
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "7d2f4b9a1c3e"
down_revision: str | Sequence[str] | None = "51ec830d163c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    owners: dict[tuple[str, str], int] = {}
    orphans: list[int] = []
    roles = bind.execute(
        sa.text("SELECT id, partner_id, country_code, party_id FROM partner_roles ORDER BY id")
    )
    for role_id, partner_id, country_code, party_id in roles:
        key = (country_code.upper(), party_id.upper())
        owner = owners.setdefault(key, partner_id)
        if owner != partner_id:
            orphans.append(role_id)
    for role_id in orphans:
        bind.execute(sa.text("DELETE FROM partner_roles WHERE id = :id"), {"id": role_id})
    for (country_code, party_id), partner_id in owners.items():
        bind.execute(
            sa.text(
                "INSERT INTO partner_parties"
                " (created_at, updated_at, partner_id, country_code, party_id)"
                " VALUES (:now, :now, :partner_id, :country_code, :party_id)"
            ),
            {
                "now": now,
                "partner_id": partner_id,
                "country_code": country_code,
                "party_id": party_id,
            },
        )

    references: set[tuple[int, str, str, str]] = set()
    evses = bind.execute(
        sa.text(
            "SELECT e.location_ref, l.country_code, l.party_id, e.connectors"
            " FROM evses e JOIN locations l ON l.id = e.location_ref"
        )
    )
    for location_ref, country_code, party_id, connectors in evses:
        if isinstance(connectors, str):
            connectors = json.loads(connectors)
        for connector in connectors or []:
            for tariff_id in connector.get("tariff_ids") or []:
                references.add((location_ref, country_code, party_id, tariff_id))
    for location_ref, country_code, party_id, tariff_id in sorted(references):
        bind.execute(
            sa.text(
                "INSERT INTO tariff_references"
                " (created_at, updated_at, location_ref, country_code, party_id, tariff_id)"
                " VALUES (:now, :now, :location_ref, :country_code, :party_id, :tariff_id)"
            ),
            {
                "now": now,
                "location_ref": location_ref,
                "country_code": country_code,
                "party_id": party_id,
                "tariff_id": tariff_id,
            },
        )


def downgrade() -> None:
    op.execute("DELETE FROM tariff_references")
    op.execute("DELETE FROM partner_parties")
