"""PostgreSQL notifications of new push jobs and commands (wake the workers of every process)

Revision ID: 7c1d4e2f9a30
Revises: 5b7e2c9d4a10
Create Date: 2026-12-02 18:00:00

A statement that inserts push jobs or commands notifies ``hub_push`` or ``hub_commands`` when
its transaction commits (PostgreSQL folds the identical notifications of one transaction into
one), whichever process or command made it: the push workers and command runners of every hub
process listen (``hub.persistence.notifications``). SQLite has one process: nothing to do.
"""

from collections.abc import Sequence

from alembic import op


revision: str = "7c1d4e2f9a30"
down_revision: str | Sequence[str] | None = "5b7e2c9d4a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTIFIED = {"push_jobs": "hub_push", "commands": "hub_commands"}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, channel in NOTIFIED.items():
        op.execute(
            f"""
            CREATE FUNCTION notify_{channel}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{channel}', '');
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION notify_{channel}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, channel in NOTIFIED.items():
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
        op.execute(f"DROP FUNCTION notify_{channel}()")
