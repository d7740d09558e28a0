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
    settings,
)
from hub.domain.stations import parse_authorization_key

if TYPE_CHECKING:
    from hub.persistence.tables import ChargingStation

app = typer.Typer(help="OCPP charging stations.", no_args_is_help=True)


CONNECTION_LEGEND = (
    "connected: a hub process holds the station's socket now; only then does `hub chargers "
    "call` reach it. ocpi: what partners see; a station stays online for "
    "HUB_OCPP__OFFLINE_AFTER_SECONDS ({offline_after:g} s) after its socket closed (or "
    "HUB_OCPP__MISSED_HEARTBEATS heartbeat intervals of silence), so a short network blip "
    "does not flap its EVSEs; then it is offline and its EVSEs are UNKNOWN."
)


def station_record(station: ChargingStation) -> dict[str, Any]:
    return {
        "station_id": station.station_id,
        "connected": station.connected_node is not None,
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


def _connection_cells(record: dict[str, Any]) -> dict[str, str]:
    return {
        "connected": "yes" if record["connected"] else "no",
        "ocpi": "online" if record["online"] else "offline",
    }


def _check_station_id(station_id: str) -> None:
    if not 1 <= len(station_id) <= 48:
        raise typer.BadParameter("1 to 48 characters", param_hint="STATION_ID")


def _secret(password: str | None, password_hex: str | None) -> str | bytes | None:
    """The password given on the command line, checked; None: generate one."""
    if password is not None and password_hex is not None:
        raise typer.BadParameter("give --password or --password-hex, not both")
    if password is not None and not 16 <= len(password) <= 40:
        raise typer.BadParameter("16 to 40 characters (OCPP 2.0.1)", param_hint="--password")
    if password_hex is not None:
        try:
            return parse_authorization_key(password_hex)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--password-hex") from exc
    return password


PASSWORD_OPTION = typer.Option(None, help="Default: a generated 32-character secret")
PASSWORD_HEX_OPTION = typer.Option(
    None,
    help="An OCPP 1.6 AuthorizationKey: 40 hex characters (20 bytes); the station's Basic "
    "password is then those raw bytes",
)


@app.command("add")
def add(
    station_id: str = typer.Argument(..., help="The station's OCPP identity"),
    password: str | None = PASSWORD_OPTION,
    password_hex: str | None = PASSWORD_HEX_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Allow a station to connect (OCPP security profile 1: HTTP Basic auth)."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    _check_station_id(station_id)
    secret = _secret(password, password_hex)

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


@app.command("reset-password")
def reset_password(
    station_id: str = typer.Argument(..., help="The station's OCPP identity"),
    password: str | None = PASSWORD_OPTION,
    password_hex: str | None = PASSWORD_HEX_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Give a station a new password (printed once, as by `add`); the old one stops working at
    its next login, and its failed logins in a row are cleared."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    secret = _secret(password, password_hex)

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            station, shown = await StationService(session).reset_password(station_id, secret)
            key = "password_hex" if isinstance(secret, bytes) else "password"
            return {"station_id": station.station_id, key: shown}

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"New password of {station_id}", record)
        console.print(
            "Configure the password in the station; it is not shown again. A connection open "
            "now stays up; the station needs the new password when it reconnects."
        )


@app.command("list")
def list_stations(as_json: bool = JSON_OPTION) -> None:
    """List stations with their connection state: `connected` (a hub process holds the socket
    now) and `ocpi` (online, or offline with its EVSEs UNKNOWN, as partners see it)."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        async with session_scope(context.sessions) as session:
            return [station_record(s) for s in await StationService(session).list_all()]

    records = run(work)
    if as_json:
        print_json(records)
        return
    # Vendor, model and firmware are in `show`: the ids must fit an 80-column terminal.
    print_table(
        "Charging stations",
        ["station_id", "connected", "ocpi", "ocpp", "last_seen_at", "auth_failures"],
        [
            [
                r["station_id"],
                *_connection_cells(r).values(),
                r["ocpp_version"],
                _seconds(r["last_seen_at"]),
                r["auth_failures"],
            ]
            for r in records
        ],
    )
    console.print(
        CONNECTION_LEGEND.format(offline_after=settings().ocpp.offline_after_seconds),
        highlight=False,
    )


def _seconds(iso: str | None) -> str | None:
    """``2026-12-01T11:58:03.123456+00:00`` as ``2026-12-01 11:58:03Z``."""
    return None if iso is None else f"{iso[:10]} {iso[11:19]}Z"


def _connector_rows(statuses: dict[str, Any]) -> list[list[Any]]:
    """``{"1:1": "Occupied"}`` (2.0.1) or ``{"0:2": "Charging"}`` (1.6) as table rows."""
    rows = []
    for key, status in sorted(statuses.items(), key=lambda item: _connector_order(item[0])):
        evse_id, _, connector_id = key.partition(":")
        rows.append([None if evse_id == "0" else evse_id, connector_id, status])
    return rows


def _connector_order(key: str) -> tuple[int, int]:
    evse_id, _, connector_id = key.partition(":")
    try:
        return int(evse_id), int(connector_id)
    except ValueError:
        return (0, 0)


@app.command("show")
def show(
    station_id: str,
    history: int = typer.Option(
        20, "--history", min=0, help="How many of the latest EVSE status changes to show"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a station, the statuses it reported, its EVSE links and their status history."""
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
                }
                for e in await service.evses(station_id)
            ]
            changes = [
                {
                    "changed_at": change.changed_at.isoformat(),
                    "evse_uid": uid,
                    "previous_status": change.previous_status,
                    "status": change.status,
                    "ocpp_status": change.ocpp_status,
                    "reason": change.reason,
                }
                for uid, change in (
                    await service.station_history(station_id, history) if history else []
                )
            ]
            return {
                **station_record(station),
                "station_status": station.station_status,
                "connector_statuses": dict(station.connector_statuses),
                "evses": evses,
                "history": changes,
            }

    record = run(work)
    if as_json:
        print_json(record)
        return
    listed = {"evses", "history", "connector_statuses", "connected", "online"}
    fields = {k: v for k, v in record.items() if k not in listed}
    fields = {"station_id": fields.pop("station_id"), **_connection_cells(record), **fields}
    print_record(f"Station {station_id}", fields)
    console.print(
        CONNECTION_LEGEND.format(offline_after=settings().ocpp.offline_after_seconds),
        highlight=False,
    )
    print_table(
        "Connector statuses reported (OCPP)",
        ["evse_id", "connector_id", "status"],
        _connector_rows(record["connector_statuses"]),
    )
    columns = ["uid", "status", "ocpp_evse_id", "ocpp_connector_id"]
    print_table("EVSEs (OCPI)", columns, [[e[c] for c in columns] for e in record["evses"]])
    columns = ["changed_at", "evse_uid", "previous_status", "status", "ocpp_status", "reason"]
    print_table(
        f"Status history (latest {history}, newest first)",
        columns,
        [
            [_seconds(change["changed_at"]), *(change[c] for c in columns[1:])]
            for change in record["history"]
        ],
    )


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def auth_list_entry(item: str) -> dict[str, Any]:
    """One stored list entry (OCPP 1.6 or 2.0.1 JSON) as the CLI shows it."""
    entry = json.loads(item)
    if "idTag" in entry:
        info = entry.get("idTagInfo") or {}
        return {
            "id_token": entry["idTag"],
            "type": None,
            "status": info.get("status"),
            "group": info.get("parentIdTag"),
        }
    info = entry.get("idTokenInfo") or {}
    return {
        "id_token": entry["idToken"]["idToken"],
        "type": entry["idToken"].get("type"),
        "status": info.get("status"),
        "group": (info.get("groupIdToken") or {}).get("idToken"),
    }


AUTH_LIST_LEGEND = (
    "What the station holds per our records: the tokens it may accept while it cannot reach "
    "us (valid, whitelist ALWAYS/ALLOWED/ALLOWED_OFFLINE, of partners that may see its "
    "locations), newest first when it holds fewer than are eligible. pending: what the next "
    "sync pass does (check = ask its version and limits after a boot; full = resend all)."
)


@app.command("auth-list")
def auth_list(station_id: str, as_json: bool = JSON_OPTION) -> None:
    """Show a station's OCPP local authorization list (offline charging) per our records."""
    from hub.persistence.session import session_scope
    from hub.services.local_lists import LocalListService

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            view = await LocalListService(session).view(station_id)
        row = view.row
        pending = [
            name for name, flag in (("check", row.needs_check), ("full", row.needs_full)) if flag
        ]
        return {
            "station_id": station_id,
            "version": row.version,
            "station_version": row.station_version,
            "entries": row.entries,
            "eligible_tokens": row.eligible,
            "max_entries": row.max_entries,
            "max_items_per_message": row.max_items_per_message,
            "max_bytes_per_message": row.max_bytes_per_message,
            "enabled": row.enabled,
            "unsupported": row.unsupported,
            "limits_read_at": _iso(row.limits_read_at),
            "pending": pending,
            "last_sync_at": _iso(row.last_sync_at),
            "last_update_type": row.last_update_type,
            "last_messages": row.last_messages,
            "checked_at": _iso(row.checked_at),
            "failures": row.failures,
            "last_error": row.last_error,
            "last_error_at": _iso(row.last_error_at),
            "list": [auth_list_entry(entry.item) for entry in view.entries],
        }

    record = run(work)
    if as_json:
        print_json(record)
        return
    fields = {k: v for k, v in record.items() if k != "list"}
    fields["pending"] = ", ".join(record["pending"]) or "-"
    print_record(f"Local authorization list of {station_id}", fields)
    console.print(AUTH_LIST_LEGEND, highlight=False)
    columns = ["id_token", "type", "status", "group"]
    print_table("Entries", columns, [[entry[c] for c in columns] for entry in record["list"]])


PROFILES_LEGEND = (
    "Profiles eMSPs set on the station's sessions (OCPI chargingprofiles), as the charger "
    "accepted them: one per session, a PUT replaces it; CLEARED once the charger cleared it. "
    "Each request, refused or not, is a command: hub commands list --station."
)


def _periods(profile: dict[str, Any]) -> str:
    unit = profile.get("charging_rate_unit", "")
    return ", ".join(
        f"{p['start_period']}s: {p['limit']} {unit}"
        for p in profile.get("charging_profile_period") or []
    )


@app.command("profiles")
def profiles(
    station_id: str,
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many, newest first"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Charging profiles set on a station's sessions: by whom, what, and whether still held."""
    from hub.persistence.session import session_scope
    from hub.services.charging_profiles import ChargingProfileService

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        async with session_scope(context.sessions) as session:
            rows = await ChargingProfileService(session).at_station(station_id, limit=limit)
        return [
            {
                "session_id": charge.session_id,
                "session_status": charge.status,
                "evse_uid": charge.evse_uid,
                "connector_id": charge.connector_id,
                "partner": partner,
                "status": held.status,
                "ocpp_profile_id": held.ocpp_profile_id,
                "stack_level": held.stack_level,
                "profile": held.profile,
                "set_at": _iso(held.set_at),
                "cleared_at": _iso(held.cleared_at),
                "command": held.command_ref,
            }
            for held, charge, partner in rows
        ]

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = ["session", "evse", "partner", "status", "profile id", "limits", "set", "cleared"]
    print_table(
        f"Charging profiles at {station_id}",
        columns,
        [
            [
                r["session_id"],
                r["evse_uid"],
                r["partner"],
                r["status"],
                r["ocpp_profile_id"],
                _periods(r["profile"]),
                r["set_at"],
                r["cleared_at"] or "-",
            ]
            for r in records
        ],
    )
    console.print(PROFILES_LEGEND, highlight=False)


@app.command("remove")
def remove(station_id: str, as_json: bool = JSON_OPTION) -> None:
    """Forget a station: it can no longer connect; its EVSEs become UNKNOWN."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService

    async def work(context: CommandContext) -> None:
        async with session_scope(context.sessions) as session:
            await StationService(session).remove(station_id)

    run(work)
    record = {"station_id": station_id, "removed": True}
    if as_json:
        print_json(record)
    else:
        print_record("Removed", record)


def _cell(value: Any) -> Any:
    return (
        value
        if value is None or isinstance(value, str | int | float | bool)
        else (json.dumps(value, ensure_ascii=False))
    )


@app.command("call")
def call(
    station_id: str,
    action: str = typer.Argument(..., help="OCPP action, e.g. RemoteStartTransaction"),
    payload: str = typer.Argument("{}", help="OCPP JSON payload (camelCase)"),
    as_json: bool = typer.Option(
        False, "--json", help="Print the station's answer (OCPP JSON) instead of a table."
    ),
) -> None:
    """Send a call to a station through the hub process that holds its socket.

    Works with a single `hub serve` as it is: the call is authorised by a one-time token this
    command writes (hashed) to the shared database. In a cluster, HUB_OCPP__INTERNAL_TOKEN may
    be set instead (the same in every process)."""
    from hub.ocpp.commands import StationCallFailed, StationCommands
    from hub.ocpp.server import StationRegistry

    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="PAYLOAD") from exc
    if not isinstance(body, dict):
        raise typer.BadParameter("an OCPP payload is a JSON object", param_hint="PAYLOAD")

    async def work(context: CommandContext) -> dict[str, Any]:
        commands = StationCommands(
            StationRegistry(),  # this process holds no sockets: the call is forwarded
            context.sessions,
            context.http,
            node="",
            internal_token=context.settings.ocpp.internal_token,
            timeout=context.settings.ocpp.call_timeout_seconds,
        )
        try:
            return await commands.call(station_id, action, body)
        except StationCallFailed as exc:
            exit_with_error(str(exc))

    answer = run(work)
    if as_json:
        print_json(answer)
        return
    print_record(
        f"{station_id} answered {action}", {key: _cell(value) for key, value in answer.items()}
    )
