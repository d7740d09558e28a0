"""PostgreSQL notifications of changed or removed station passwords (forget remembered logins)

Revision ID: 9d2e6f1a7b40
Revises: 7c1d4e2f9a30
Create Date: 2026-12-03 07:00:00

Every hub process remembers the password hash each station last logged in with, so that the
reconnect of thousands of stations is checked without the database
(``hub.ocpp.bridge.KnownPasswords``). A change of a station's password, or its removal, made by
any process or operator command notifies ``hub_station_credentials`` with the station id when
its transaction commits, and every process forgets that station's hash. SQLite has one process,
which remembers nothing: nothing to do.
"""

from collections.abc import Sequence

from alembic import op


revision: str = "9d2e6f1a7b40"
down_revision: str | Sequence[str] | None = "7c1d4e2f9a30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION notify_hub_station_credentials() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.password_hash IS DISTINCT FROM NEW.password_hash THEN
                PERFORM pg_notify('hub_station_credentials', OLD.station_id);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER charging_stations_credentials_notify "
        "AFTER UPDATE OF password_hash OR DELETE ON charging_stations "
        "FOR EACH ROW EXECUTE FUNCTION notify_hub_station_credentials()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER charging_stations_credentials_notify ON charging_stations")
    op.execute("DROP FUNCTION notify_hub_station_credentials()")
