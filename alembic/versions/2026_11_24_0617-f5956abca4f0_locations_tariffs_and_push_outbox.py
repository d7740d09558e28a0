"""locations tariffs and push outbox

Revision ID: f5956abca4f0
Revises: 21cee8c90b26
Create Date: 2026-11-24 06:17:28.900969
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate emits sqlmodel.sql.sqltypes.AutoString)
from alembic import op


revision: str = "f5956abca4f0"
down_revision: str | Sequence[str] | None = "21cee8c90b26"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_ref", sa.Integer(), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("location_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("time_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_ref"], ["parties.id"], name=op.f("fk_locations_party_ref_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("location_id", name=op.f("uq_locations_location_id")),
    )
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_locations_last_updated"), ["last_updated"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_locations_party_ref"), ["party_ref"], unique=False)

    op.create_table(
        "push_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("partner_id", sa.Integer(), nullable=False),
        sa.Column("queue_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("coalesce_key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_push_jobs_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_jobs")),
    )
    with op.batch_alter_table("push_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_push_jobs_coalesce", ["partner_id", "coalesce_key", "state"], unique=False
        )
        batch_op.create_index("ix_push_jobs_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_push_jobs_queue", ["partner_id", "queue_key", "id"], unique=False)

    op.create_table(
        "tariffs",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_ref", sa.Integer(), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("tariff_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_ref"], ["parties.id"], name=op.f("fk_tariffs_party_ref_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs")),
        sa.UniqueConstraint(
            "country_code",
            "party_id",
            "tariff_id",
            name=op.f("uq_tariffs_country_code_party_id_tariff_id"),
        ),
    )
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tariffs_last_updated"), ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_tariffs_party_ref"), ["party_ref"], unique=False)

    op.create_table(
        "evses",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_ref", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("uid", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("evse_id", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("connectors", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column(
            "charging_station_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("ocpp_evse_id", sa.Integer(), nullable=True),
        sa.Column("ocpp_connector_id", sa.Integer(), nullable=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_ref"],
            ["locations.id"],
            name=op.f("fk_evses_location_ref_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evses")),
        sa.UniqueConstraint("uid", name=op.f("uq_evses_uid")),
    )
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evses_charging_station_id"), ["charging_station_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evses_location_ref"), ["location_ref"], unique=False)

    op.create_table(
        "location_visibility",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_ref", sa.Integer(), nullable=False),
        sa.Column("country_code", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_ref"],
            ["locations.id"],
            name=op.f("fk_location_visibility_location_ref_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_visibility")),
        sa.UniqueConstraint(
            "location_ref",
            "country_code",
            "party_id",
            name=op.f("uq_location_visibility_location_ref_country_code_party_id"),
        ),
    )
    with op.batch_alter_table("location_visibility", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_location_visibility_location_ref"), ["location_ref"], unique=False
        )

    with op.batch_alter_table("partners", schema=None) as batch_op:
        # Server defaults fill the rows of partners that exist already.
        batch_op.add_column(
            sa.Column("push_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("push_degraded", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "nacs_mode",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="omit",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("nacs_mode")
        batch_op.drop_column("push_degraded")
        batch_op.drop_column("push_failures")

    with op.batch_alter_table("location_visibility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_visibility_location_ref"))

    op.drop_table("location_visibility")
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evses_location_ref"))
        batch_op.drop_index(batch_op.f("ix_evses_charging_station_id"))

    op.drop_table("evses")
    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tariffs_party_ref"))
        batch_op.drop_index(batch_op.f("ix_tariffs_last_updated"))

    op.drop_table("tariffs")
    with op.batch_alter_table("push_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_push_jobs_queue")
        batch_op.drop_index("ix_push_jobs_due")
        batch_op.drop_index("ix_push_jobs_coalesce")

    op.drop_table("push_jobs")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locations_party_ref"))
        batch_op.drop_index(batch_op.f("ix_locations_last_updated"))

    op.drop_table("locations")
