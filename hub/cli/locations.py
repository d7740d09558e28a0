"""``hub locations``: the network's sites, EVSEs and connectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    print_json,
    print_record,
    print_table,
    run,
)
from hub.domain.assets import EvseStatus, ImportReport

app = typer.Typer(help="Locations, EVSEs and connectors of our parties.", no_args_is_help=True)


def report_record(report: ImportReport) -> dict[str, Any]:
    return {
        "created": len(report.created),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "evses_removed": len(report.evses_removed),
        "changed_ids": report.created + report.updated,
    }


def print_report(title: str, report: ImportReport, as_json: bool) -> None:
    record = report_record(report)
    if as_json:
        print_json(record)
        return
    shown = dict(record)
    ids = shown.pop("changed_ids")
    if ids:
        shown["changed"] = ", ".join(ids[:10]) + (f" … (+{len(ids) - 10})" if len(ids) > 10 else "")
    print_record(title, shown)


@app.command("import")
def import_locations(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="OCPI JSON or CSV"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or update locations from a file; unchanged ones are left alone.

    JSON: a list of OCPI 2.2.1 Location objects. CSV: one row per connector (see README).
    """
    from hub.persistence.session import session_scope
    from hub.roaming.importer import read_locations
    from hub.services.locations import LocationService

    specs = run_parse(lambda: read_locations(file))

    async def work(context: CommandContext) -> ImportReport:
        async with session_scope(context.sessions) as session:
            return await LocationService(session).import_locations(specs)

    print_report(f"Imported {file.name}", run(work), as_json)


def run_parse(parse: Any) -> Any:
    from hub.cli.common import exit_with_error
    from hub.errors import HubError

    try:
        return parse()
    except HubError as exc:
        exit_with_error(str(exc))


@app.command("list")
def list_locations(
    limit: int = typer.Option(50, help="How many to show"),
    offset: int = typer.Option(0, help="How many to skip"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List locations with their EVSE counts and statuses."""
    from hub.persistence.session import session_scope
    from hub.services.locations import LocationService

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        async with session_scope(context.sessions) as session:
            service = LocationService(session)
            rows = await service.list_all(offset=offset, limit=limit)
            views = await service.views_by_ids([r.location_id for r in rows])
            records = []
            for row in rows:
                evses = views[row.location_id].evses
                statuses: dict[str, int] = {}
                for evse in evses:
                    statuses[evse.status] = statuses.get(evse.status, 0) + 1
                records.append(
                    {
                        "id": row.location_id,
                        "party": f"{row.country_code}*{row.party_id}",
                        "name": row.name,
                        "city": row.city,
                        "time_zone": row.time_zone,
                        "publish": row.publish,
                        "evses": len(evses),
                        "statuses": statuses,
                        "last_updated": row.last_updated.isoformat(),
                    }
                )
            return records

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = ["id", "party", "name", "city", "time_zone", "publish", "evses", "statuses"]
    print_table(
        "Locations",
        columns,
        [
            [
                ", ".join(f"{k} {v}" for k, v in r[c].items()) if c == "statuses" else r[c]
                for c in columns
            ]
            for r in records
        ],
    )


@app.command("show")
def show(location_id: str, as_json: bool = JSON_OPTION) -> None:
    """Show one location with its EVSEs, connectors and OCPP links."""
    from hub.persistence.session import session_scope
    from hub.services.locations import LocationService

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            view = await LocationService(session).get(location_id)
        row = view.location
        return {
            "id": row.location_id,
            "party": f"{row.country_code}*{row.party_id}",
            "name": row.name,
            "city": row.city,
            "time_zone": row.time_zone,
            "publish": row.publish,
            "visible_to": view.visible_to,
            "last_updated": row.last_updated.isoformat(),
            "evses": [
                {
                    "uid": e.uid,
                    "evse_id": e.evse_id,
                    "status": e.status,
                    "connectors": ", ".join(f"{c['id']}:{c['standard']}" for c in e.connectors),
                    "station": e.charging_station_id,
                    "ocpp_evse_id": e.ocpp_evse_id,
                    "ocpp_connector_id": e.ocpp_connector_id,
                    "last_updated": e.last_updated.isoformat(),
                }
                for e in view.evses
            ],
        }

    record = run(work)
    if as_json:
        print_json(record)
        return
    print_record(f"Location {location_id}", {k: v for k, v in record.items() if k != "evses"})
    columns = [
        "uid",
        "evse_id",
        "status",
        "connectors",
        "station",
        "ocpp_evse_id",
        "ocpp_connector_id",
    ]
    print_table("EVSEs", columns, [[e[c] for c in columns] for e in record["evses"]])


@app.command("set-status")
def set_status(
    evse_uid: str,
    status: EvseStatus = typer.Argument(..., help="OCPI EVSE status"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set an EVSE's status by hand (normally its charger reports it); pushed to partners."""
    from hub.persistence.session import session_scope
    from hub.services.locations import LocationService

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            changed = await LocationService(session).set_evse_status(evse_uid, status)
        return {"uid": evse_uid, "status": status.value, "changed": changed}

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"EVSE {evse_uid}", record)


@app.command("set-tariffs")
def set_tariffs(
    evse_uid: str,
    connector_id: str,
    tariff_ids: list[str] = typer.Argument(None, help="Tariff ids (none to clear)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set the tariffs of one connector; pushed to partners as a connector PATCH."""
    from hub.persistence.session import session_scope
    from hub.services.locations import LocationService

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            changed = await LocationService(session).set_connector_tariffs(
                evse_uid, connector_id, tariff_ids or []
            )
        return {
            "uid": evse_uid,
            "connector": connector_id,
            "tariff_ids": tariff_ids or [],
            "changed": changed,
        }

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"Connector {evse_uid}/{connector_id}", record)
