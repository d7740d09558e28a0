"""``hub chargers``: OCPP charging stations allowed to connect, and calls to them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    console,
    exit_with_error,
    print_json,
    print_record,
    print_table,
    run,
)
from hub.domain.stations import parse_authorization_key

if TYPE_CHECKING:
    from hub.persistence.tables import ChargingStation

app = typer.Typer(help="OCPP charging stations.", no_args_is_help=True)


def station_record(station: ChargingStation) -> dict[str, Any]:
    return {
        "station_id": station.station_id,
        "online": station.online,
        "ocpp_version": station.ocpp_version,
        "vendor": station.vendor,
        "model": station.model,
        "firmware_version": station.firmware_version,
        "node": station.connected_node,
        "last_seen_at": station.last_seen_at.isoformat() if station.last_seen_at else None,
        "booted_at": station.booted_at.isoformat() if station.booted_at else None,
        "auth_failures": station.auth_failures,
        "auth_failures_total": station.auth_failures_total,
        "last_auth_failure_at": (
            station.last_auth_failure_at.isoformat() if station.last_auth_failure_at else None
        ),
        "last_auth_failure_source": station.last_auth_failure_source,
    }


@app.command("add")
def add(
    station_id: str = typer.Argument(..., help="The station's OCPP identity"),
    password: str | None = typer.Option(None, help="Default: a generated 32-character secret"),
    password_hex: str | None = typer.Option(
        None,
        help="An OCPP 1.6 AuthorizationKey: 40 hex characters (20 bytes); the station's Basic "
        "password is then those raw bytes",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Allow a station to connect (OCPP security profile 1: HTTP Basic auth)."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    if not 1 <= len(station_id) <= 48:
        raise typer.BadParameter("1 to 48 characters", param_hint="STATION_ID")
    if password is not None and password_hex is not None:
        raise typer.BadParameter("give --password or --password-hex, not both")
    if password is not None and not 16 <= len(password) <= 40:
        raise typer.BadParameter("16 to 40 characters (OCPP 2.0.1)", param_hint="--password")
    secret: str | bytes | None = password
    if password_hex is not None:
        try:
            secret = parse_authorization_key(password_hex)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--password-hex") from exc

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            station, shown = await StationService(session).add(station_id, secret)
            key = "password_hex" if isinstance(secret, bytes) else "password"
            return {**station_record(station), key: shown}

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"Added {station_id}", record)
        console.print("Configure the password in the station; it is not shown again.")


@app.command("list")
def list_stations(as_json: bool = JSON_OPTION) -> None:
    """List stations with their connection state."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        async with session_scope(context.sessions) as session:
            return [station_record(s) for s in await StationService(session).list_all()]

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = [
        "station_id",
        "online",
        "ocpp_version",
        "vendor",
        "model",
        "last_seen_at",
        "auth_failures",
    ]
    print_table("Charging stations", columns, [[r[c] for c in columns] for r in records])


@app.command("show")
def show(station_id: str, as_json: bool = JSON_OPTION) -> None:
    """Show a station, its EVSE links and their statuses."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            service = StationService(session)
            station = await service.get(station_id)
            evses = [
                {
                    "uid": e.uid,
                    "status": e.status,
                    "ocpp_evse_id": e.ocpp_evse_id,
                    "ocpp_connector_id": e.ocpp_connector_id,
                    "history": [
                        f"{at.isoformat()} {status} ({reason})"
                        for at, status, reason in await service.history(e, 5)
                    ],
                }
                for e in await service.evses(station_id)
            ]
            return {
                **station_record(station),
                "station_status": station.station_status,
                "connector_statuses": station.connector_statuses,
                "evses": evses,
            }

    record = run(work)
    if as_json:
        print_json(record)
        return
    print_record(f"Station {station_id}", {k: v for k, v in record.items() if k != "evses"})
    columns = ["uid", "status", "ocpp_evse_id", "ocpp_connector_id"]
    print_table("EVSEs", columns, [[e[c] for c in columns] for e in record["evses"]])


@app.command("remove")
def remove(station_id: str) -> None:
    """Forget a station: it can no longer connect; its EVSEs become UNKNOWN."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    async def work(context: CommandContext) -> None:
        async with session_scope(context.sessions) as session:
            await StationService(session).remove(station_id)

    run(work)
    print_record("Removed", {"station_id": station_id})


@app.command("call")
def call(
    station_id: str,
    action: str = typer.Argument(..., help="OCPP action, e.g. RemoteStartTransaction"),
    payload: str = typer.Argument("{}", help="OCPP JSON payload (camelCase)"),
) -> None:
    """Send a call to a station through the hub process that holds its socket."""
    from hub.ocpp.commands import StationCallFailed, StationCommands
    from hub.ocpp.server import StationRegistry

    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="PAYLOAD") from exc

    async def work(context: CommandContext) -> dict[str, Any]:
        commands = StationCommands(
            StationRegistry(),  # this process holds no sockets: the call is forwarded
            context.sessions,
            context.http,
            node="",
            internal_token=context.settings.ocpp.internal_token,
            timeout=context.settings.ocpp.call_timeout_seconds,
        )
        return await commands.call(station_id, action, body)

    try:
        print_json(run(work))
    except StationCallFailed as exc:
        exit_with_error(str(exc))
