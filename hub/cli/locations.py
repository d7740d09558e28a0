"""``hub locations``: the network's sites, EVSEs and connectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.cells import cell_len
from rich.table import Table

from hub.cli import common
from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    print_json,
    print_record,
    run,
)
from hub.domain.assets import EvseStatus, ImportKind, ImportReport

app = typer.Typer(help="Locations, EVSEs and connectors of our parties.", no_args_is_help=True)


@dataclass(frozen=True, slots=True)
class Column:
    """A column of :func:`print_fitted_table`.

    ``whole``: it holds ids the operator types into the next command, so a cell is never cut
    nor wrapped (one id per line). ``drop``: 0 for a column always shown; when the terminal is
    too narrow for the whole ids, the column with the highest ``drop`` is left out first.
    ``min_width``: the narrowest a wrapping column is squeezed to.
    """

    name: str
    whole: bool = False
    drop: int = 0
    min_width: int = 10


def _needed_width(column: Column, cells: Sequence[str]) -> int:
    lines = [line for text in (column.name, *cells) for line in text.splitlines() or [""]]
    longest = max(cell_len(line) for line in lines)
    return longest if column.whole else min(longest, column.min_width)


def print_fitted_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    total: int | None = None,
    more: str | None = None,
) -> None:
    """A table that shows every id whole at the terminal's width: less important columns are
    left out (the caption names them; ``--json`` has everything) before an id would be cut or
    folded. ``total``/``more`` as in ``print_table``: the caption says "N of TOTAL" and how to
    see the rest."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    needed = [_needed_width(c, [row[i] for row in cells]) for i, c in enumerate(columns)]
    width = common.console.width
    shown = list(range(len(columns)))

    def table_width() -> int:  # content + one space of padding each side + the borders
        return sum(needed[i] for i in shown) + 3 * len(shown) + 1

    while table_width() > width:
        droppable = [i for i in shown if columns[i].drop > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: columns[i].drop))
    caption = f"{len(rows)} of {len(rows) if total is None else total}"
    if total is not None and total > len(rows) and more:
        caption += f"; {more}"
    hidden = [c.name for i, c in enumerate(columns) if i not in shown]
    if hidden:
        caption += f"; left out at {width} columns: {', '.join(hidden)} (see --json)"
    table = Table(title=title, caption=caption)
    for i in shown:
        column = columns[i]
        if column.whole:
            # fold only as a last resort, in a terminal narrower than the ids themselves
            table.add_column(column.name, no_wrap=True, min_width=needed[i], overflow="fold")
        else:
            table.add_column(column.name, overflow="fold")
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    common.console.print(table)


def report_record(report: ImportReport) -> dict[str, Any]:
    """The rows that apply to the kind of import: only a location import removes EVSEs."""
    record: dict[str, Any] = {
        "created": len(report.created),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
    }
    if report.kind is ImportKind.LOCATIONS:
        record["evses_removed"] = len(report.evses_removed)
    record["changed_ids"] = report.created + report.updated
    if report.kind is ImportKind.LOCATIONS:
        record["removed_evse_uids"] = report.evses_removed
    return record


def _some(names: list[str], shown: int = 10) -> str:
    return ", ".join(names[:shown]) + (f" … (+{len(names) - shown})" if len(names) > shown else "")


def print_report(title: str, report: ImportReport, as_json: bool) -> None:
    record = report_record(report)
    if as_json:
        print_json(record)
        return
    shown = dict(record)
    ids = shown.pop("changed_ids")
    removed = shown.pop("removed_evse_uids", [])
    if ids:
        shown["changed"] = _some(ids)
    if removed:
        shown["removed EVSEs"] = _some(removed)
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


LIST_COLUMNS = (
    Column("id", whole=True),
    Column("party", whole=True),
    Column("name", drop=3),
    Column("city", drop=2, min_width=8),
    Column("time_zone", drop=4, min_width=8),
    Column("publish", whole=True, drop=5),
    Column("evses", whole=True),
    Column("statuses", min_width=12),
)


@app.command("list")
def list_locations(
    limit: int = typer.Option(50, help="How many to show"),
    offset: int = typer.Option(0, help="How many to skip"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List locations with their EVSE counts and statuses."""
    from hub.persistence.session import session_scope
    from hub.services.locations import LocationService

    async def work(context: CommandContext) -> tuple[list[dict[str, Any]], int]:
        async with session_scope(context.sessions) as session:
            service = LocationService(session)
            rows = await service.list_all(offset=offset, limit=limit)
            views = await service.views_by_ids([r.location_id for r in rows])
            total, _ = await service.counts()
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
            return records, total

    records, total = run(work)
    if as_json:
        print_json(records)
        return
    names = [c.name for c in LIST_COLUMNS]
    print_fitted_table(
        "Locations",
        LIST_COLUMNS,
        [
            [
                ", ".join(f"{k} {v}" for k, v in r[c].items()) if c == "statuses" else r[c]
                for c in names
            ]
            for r in records
        ],
        total=total,
        more=f"--offset {offset + len(records)} shows the next {limit}",
    )


EVSE_COLUMNS = (
    Column("uid", whole=True),
    Column("evse_id", whole=True),
    Column("status", whole=True),
    Column("station", whole=True),
    Column("ocpp", whole=True, drop=1),
)
CONNECTOR_COLUMNS = (
    Column("evse uid", whole=True),
    Column("connector", whole=True),
    Column("tariff_ids", whole=True),
    Column("standard", whole=True, drop=2),
    Column("power", whole=True, drop=3),
    Column("format", whole=True, drop=4),
)


def one_line_address(record: dict[str, Any]) -> str:
    """As on an envelope: street, postal code and city, state, country."""
    town = " ".join(part for part in (record["postal_code"], record["city"]) if part)
    parts = (record["address"], town, record["state"], record["country"])
    return ", ".join(part for part in parts if part)


def _ocpp_link(evse: dict[str, Any]) -> str:
    if evse["ocpp_evse_id"] is not None:
        return f"evse {evse['ocpp_evse_id']}"
    if evse["ocpp_connector_id"] is not None:
        return f"connector {evse['ocpp_connector_id']}"
    return ""


@app.command("show")
def show(location_id: str, as_json: bool = JSON_OPTION) -> None:
    """Show one location with its address, EVSEs, OCPP links and connectors with their
    tariffs."""
    from hub.domain.assets import NacsMode
    from hub.persistence.session import session_scope
    from hub.roaming.mappers import location_for_partner
    from hub.services.locations import LocationService

    async def work(context: CommandContext) -> dict[str, Any]:
        async with session_scope(context.sessions) as session:
            view = await LocationService(session).get(location_id)
        row = view.location
        # The OCPI form carries the descriptive fields (address, connector details); the
        # operator sees NACS connectors too, whatever a partner is sent.
        ocpi = location_for_partner(row, view.evses, NacsMode.SAE_J3400)
        connectors_of = {evse.uid: evse.connectors for evse in ocpi.evses or []}
        return {
            "id": row.location_id,
            "party": f"{row.country_code}*{row.party_id}",
            "name": row.name,
            "address": ocpi.address,
            "postal_code": ocpi.postal_code,
            "city": row.city,
            "state": ocpi.state,
            "country": ocpi.country,
            "time_zone": row.time_zone,
            "publish": row.publish,
            "visible_to": view.visible_to,
            "last_updated": row.last_updated.isoformat(),
            "evses": [
                {
                    "uid": e.uid,
                    "evse_id": e.evse_id,
                    "status": e.status,
                    "connectors": [
                        {
                            "id": c.id,
                            "standard": str(c.standard),
                            "format": str(c.format),
                            "power_type": str(c.power_type),
                            "max_electric_power": c.max_electric_power,
                            "tariff_ids": list(c.tariff_ids or []),
                        }
                        for c in connectors_of.get(e.uid, [])
                    ],
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
    print_record(
        f"Location {location_id}",
        {
            "id": record["id"],
            "party": record["party"],
            "name": record["name"],
            "address": one_line_address(record),
            "time_zone": record["time_zone"],
            "publish": record["publish"],
            "visible_to": ", ".join(record["visible_to"]) or "-",
            "last_updated": record["last_updated"],
        },
    )
    evses = record["evses"]
    print_fitted_table(
        "EVSEs",
        EVSE_COLUMNS,
        [[e["uid"], e["evse_id"], e["status"], e["station"], _ocpp_link(e)] for e in evses],
    )
    print_fitted_table(
        "Connectors",
        CONNECTOR_COLUMNS,
        [
            [
                e["uid"],
                c["id"],
                "\n".join(c["tariff_ids"]) or "-",
                c["standard"],
                f"{c['power_type']} {c['max_electric_power'] / 1000:g} kW"
                if c["max_electric_power"]
                else c["power_type"],
                c["format"],
            ]
            for e in evses
            for c in e["connectors"]
        ],
    )


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


def _port_setting(value: str, option: str) -> tuple[str, str]:
    uid, sep, setting = value.partition("=")
    if not sep or not uid or not setting.strip():
        raise typer.BadParameter("UID=VALUE", param_hint=option)
    return uid, setting.strip()


@app.command("nevi")
def nevi(
    location_id: str = typer.Argument(..., help="The location (its id is the NEVI station_id)"),
    network_provider: str | None = typer.Option(
        None, help="EV-ChART network_provider of the station (default: HUB_NEVI__NETWORK_PROVIDER)"
    ),
    nickname: str | None = typer.Option(None, help="Module 1 nickname (at most 50 characters)"),
    project_type: str | None = typer.Option(None, help="Module 1 project_type"),
    operational_date: str | None = typer.Option(
        None, help="Module 1 operational_date (YYYY-MM-DD): when the station opened"
    ),
    funding: list[str] | None = typer.Option(
        None, help="A funding program (NEVI, CFI, EVC_RAA, CMAQ, CRP, OTHER, AFC); repeat for each"
    ),
    fed_funded_ports: int | None = typer.Option(None, help="Module 1 num_fed_funded_ports"),
    non_fed_funded_ports: int | None = typer.Option(None, help="Module 1 num_non_fed_funded_ports"),
    port_type: list[str] | None = typer.Option(
        None, help="EVSE_UID=TYPE (e.g. DCFC, L2): a port's Module 1 port_type; repeatable"
    ),
    federally_funded: list[str] | None = typer.Option(
        None, help="EVSE_UID=yes|no: whether a port is federally funded; repeatable"
    ),
    remove: bool = typer.Option(False, "--remove", help="Stop reporting this location to NEVI"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a location for NEVI (EV-ChART) reporting, change or show its registration.

    Without options: shows it. The address, city, state, zip and coordinates of Module 1 are
    the location's own (what we publish is what we register).
    """
    from datetime import date

    from hub.persistence.session import session_scope
    from hub.services.evchart import (
        NeviRegistrationService,
        PortSetting,
        Registration,
        registration_record,
    )

    opened = None
    if operational_date is not None:
        try:
            opened = date.fromisoformat(operational_date)
        except ValueError as exc:
            raise typer.BadParameter("YYYY-MM-DD", param_hint="--operational-date") from exc
    ports: dict[str, PortSetting] = {}
    for value in port_type or []:
        uid, setting = _port_setting(value, "--port-type")
        ports[uid] = PortSetting(uid, setting, ports.get(uid, PortSetting(uid)).federally_funded)
    for value in federally_funded or []:
        uid, setting = _port_setting(value, "--federally-funded")
        if setting.lower() not in ("yes", "no", "true", "false"):
            raise typer.BadParameter("EVSE_UID=yes or EVSE_UID=no", param_hint="--federally-funded")
        funded = setting.lower() in ("yes", "true")
        ports[uid] = PortSetting(uid, ports.get(uid, PortSetting(uid)).port_type, funded)
    changes = Registration(
        network_provider=network_provider,
        nickname=nickname,
        project_type=project_type,
        operational_date=opened,
        funding=funding,
        num_fed_funded_ports=fed_funded_ports,
        num_non_fed_funded_ports=non_fed_funded_ports,
        ports=tuple(ports.values()),
    )
    changing = changes != Registration()

    async def work(context: CommandContext) -> dict[str, Any] | None:
        async with session_scope(context.sessions) as session:
            service = NeviRegistrationService(session)
            if remove:
                await service.unregister(location_id)
                return None
            if changing:
                await service.register(location_id, changes)
            location, row = await service.get(location_id)
            return registration_record(location, row, context.settings.nevi.network_provider)

    if remove and changing:
        raise typer.BadParameter("--remove takes no other option", param_hint="--remove")
    record = run(work)
    if record is None:
        common.console.print(f"{location_id} is no longer reported to NEVI")
        return
    if as_json:
        print_json(record)
        return
    print_record(f"NEVI registration of {location_id}", record)
