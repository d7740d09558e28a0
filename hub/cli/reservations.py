"""``hub reservations``: reservations eMSPs made (RESERVE_NOW), and the operator's cancellation
of one (the eMSP is told CANCELED_RESERVATION, the charger gets CancelReservation).

Operator-only: an eMSP sees its reservations as Sessions in status RESERVATION.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from hub.cli.common import JSON_OPTION, CommandContext, console, print_json, print_table, run
from hub.cli.sessions import LIMIT_OPTION, PARTNER_OPTION, iso, reason_text

if TYPE_CHECKING:
    from hub.persistence.tables import Reservation

app = typer.Typer(
    help="Reservations from eMSPs: what holds where, and cancelling one.",
    no_args_is_help=True,
)


def reservation_record(row: Reservation, partner_name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "reservation_id": row.reservation_id,
        "partner": partner_name,
        "state": row.state,
        "location_id": row.location_id,
        "evse_uid": row.evse_uid or "(any)",
        "station": row.station_id,
        "expiry_date": iso(row.expiry_date),
        "created_at": iso(row.created_at),
        "ended_at": iso(row.ended_at),
        "end_reason": row.end_reason,
    }


@app.command("list")
def list_reservations(
    partner: str | None = PARTNER_OPTION,
    live: bool = typer.Option(False, "--live", help="Only those that still hold"),
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reservations, newest first (``id`` is what the charger knows; ``reservation_id`` the
    eMSP's)."""

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope
        from hub.services.reservations import ReservationService

        async with session_scope(context.sessions) as session:
            service = ReservationService(session, codec=_codec())
            rows = await service.operator_listing(partner=partner, live=live, limit=limit)
            return [reservation_record(row, name) for row, name in rows]

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = ["id", "reservation_id", "partner", "state", "evse", "station", "expiry", "ended"]
    print_table(
        "Reservations",
        columns,
        [
            [
                r["id"],
                r["reservation_id"],
                r["partner"],
                r["state"],
                r["evse_uid"],
                r["station"],
                r["expiry_date"],
                r["end_reason"] or "",
            ]
            for r in records
        ],
    )
    if len(records) == limit:
        console.print(f"the newest {limit} are shown; --limit shows more")


@app.command("cancel")
def cancel_reservation(
    reservation: int = typer.Argument(..., help="The reservation's id (hub reservations list)"),
    reason: str = typer.Option(..., "--reason", help="Why (the eMSP is told)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel a reservation that holds: the eMSP gets CANCELED_RESERVATION, the charger a
    CancelReservation from the running hub."""
    why = reason_text(reason)

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.config import get_settings
        from hub.persistence.session import session_scope
        from hub.services.commands import CommandService

        timeouts = get_settings().commands.timeouts()
        async with session_scope(context.sessions) as session:
            service = CommandService(session, codec=_codec(), timeouts=timeouts)
            command = await service.cancel_reservation_as_operator(reservation, why)
            return {"reservation": reservation, "command": command.id, "state": "CANCELED_BY_CPO"}

    record = run(work)
    if as_json:
        print_json(record)
        return
    console.print(
        f"reservation {reservation} cancelled; the eMSP is told, and the charger gets "
        f"CancelReservation (hub commands show {record['command']})"
    )


def _codec() -> Any:
    from hub.cli.sessions import LazyCodec

    return LazyCodec()
