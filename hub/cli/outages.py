"""``hub outages``: the NEVI uptime ledger's outages per port, the operator's exclusions with
evidence (EV-ChART reasons 1-6, every change kept in an append-only trail) and scheduled
maintenance declared ahead of time (README "NEVI uptime").

Every command first brings the ledger up to date for the ports it looks at (``rebuild``: it
derives the outages from the status history and the sessions, keeping the id of every outage
that did not change).
"""

from __future__ import annotations

import getpass
from datetime import datetime
from decimal import Decimal, InvalidOperation
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
from hub.cli.sessions import iso, moment
from hub.domain.uptime import ExclusionReason

if TYPE_CHECKING:
    from hub.domain.uptime import Outage
    from hub.persistence.tables import MaintenanceWindow, OutageExclusionEvent
    from hub.services.uptime import OutageDetail, UptimeService

app = typer.Typer(
    help="Outages of charging ports (NEVI uptime): list, show, exclude with evidence, "
    "scheduled maintenance.",
    no_args_is_help=True,
)
maintenance_app = typer.Typer(
    help="Scheduled maintenance declared ahead: its outage minutes are excluded (reason 3).",
    no_args_is_help=True,
)
app.add_typer(maintenance_app, name="maintenance")

STATIONS_OPTION = typer.Option(
    None,
    "--station",
    help="Only this station: a location id (the NEVI station) or an OCPP charger id; repeat it",
)
PORT_OPTION = typer.Option(None, "--port", help="Only this port (EVSE uid)")
BY_OPTION = typer.Option(None, "--by", help="Who makes the change (default: the OS user)")
OUTAGE_ARGUMENT = typer.Argument(..., help="The outage's id (hub outages list)")
REASONS = ", ".join(f"{r.value} {r.name.lower().replace('_', ' ')}" for r in ExclusionReason)


def when(value: str, option: str, *, until: bool = False) -> datetime:
    try:
        parsed = moment(value, until=until)
    except typer.BadParameter as exc:
        raise typer.BadParameter(str(exc.message), param_hint=option) from None
    if parsed is None:
        raise typer.BadParameter("a date or date-time is needed", param_hint=option)
    return parsed


def text(value: str, option: str, limit: int = 1000) -> str:
    stripped = value.strip()
    if not stripped:
        raise typer.BadParameter("must not be empty", param_hint=option)
    if len(stripped) > limit:
        raise typer.BadParameter(f"at most {limit} characters", param_hint=option)
    return stripped


def who(by: str | None) -> str:
    if by is not None:
        text = by.strip()
        if not text:
            exit_with_error("--by must name someone")
        return text[:100]
    try:
        return getpass.getuser()[:100]
    except (KeyError, OSError):  # no user name known to the system
        exit_with_error("cannot tell who you are; name yourself with --by")


def service(context: CommandContext, session: Any) -> UptimeService:
    from hub.services.uptime import UptimeService

    uptime = context.settings.uptime
    return UptimeService(session, rule=uptime.rule(), history_since=uptime.history_since)


def outage_record(outage: Outage) -> dict[str, Any]:
    return {
        "id": outage.outage_id,
        "station_id": outage.station_id,
        "port_id": outage.port_id,
        "start": iso(outage.start),
        "end": iso(outage.end),
        "cause": outage.cause.value,
        "excluded": outage.excluded,
        "reason": outage.reason.value if outage.reason else None,
        "excluded_minutes": str(outage.excluded_minutes),
        "notes": outage.notes,
    }


def event_record(event: OutageExclusionEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "action": event.action,
        "source": event.source,
        "reason": event.reason,
        "intervals": event.intervals,
        "note": event.note,
        "evidence": event.evidence,
        "maintenance": event.maintenance_ref,
        "by": event.made_by,
        "at": iso(event.made_at),
    }


def detail_record(detail: OutageDetail, minutes_so_far: Decimal) -> dict[str, Any]:
    return {
        **outage_record(detail.outage),
        "minutes": str(minutes_so_far),
        "ongoing": detail.outage.end is None,
        "exclusion_source": detail.exclusion_source,
        "evidence": detail.evidence,
        "withdrawn_at": iso(detail.withdrawn_at),
        "trail": [event_record(e) for e in detail.trail],
    }


def maintenance_record(window: MaintenanceWindow) -> dict[str, Any]:
    return {
        "id": window.id,
        "scope": window.scope,
        "from": iso(window.starts_at),
        "until": iso(window.ends_at),
        "note": window.note,
        "by": window.made_by,
        "declared_at": iso(window.created_at),
    }


async def _detail(context: CommandContext, work: Any) -> dict[str, Any]:
    from hub.domain.ledger import minutes
    from hub.persistence.base import utc_now
    from hub.persistence.session import session_scope

    async with session_scope(context.sessions) as session:
        detail: OutageDetail = await work(service(context, session))
        outage = detail.outage
        return detail_record(detail, minutes((outage.end or utc_now()) - outage.start))


def print_detail(record: dict[str, Any]) -> None:
    trail = record.pop("trail")
    print_record(f"Outage {record['id']}", record)
    if trail:
        print_table(
            "Exclusion trail",
            ["at", "action", "source", "reason", "by", "note", "evidence"],
            [
                [e["at"], e["action"], e["source"], e["reason"], e["by"], e["note"], e["evidence"]]
                for e in trail
            ],
        )


@app.command("list")
def list_outages(
    stations: list[str] | None = STATIONS_OPTION,
    port: str | None = PORT_OPTION,
    since: str | None = typer.Option(
        None, "--since", help="Only those going on at or after (ISO date or date-time, UTC)"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Outages by station, port and start (the ledger rebuilt first); ``end`` empty: going on."""
    start = when(since, "--since") if since is not None else None

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope

        async with session_scope(context.sessions) as session:
            outages = await service(context, session).outages(
                stations=stations or [], port=port, since=start
            )
            return [outage_record(o) for o in outages]

    records = run(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Outages",
        ["id", "station", "port", "start", "end", "cause", "excluded", "reason", "excl. min"],
        [
            [
                r["id"],
                r["station_id"],
                r["port_id"],
                r["start"],
                r["end"] or "(going on)",
                r["cause"],
                "yes" if r["excluded"] else "",
                r["reason"],
                r["excluded_minutes"] if r["excluded"] else "",
            ]
            for r in records
        ],
    )


@app.command("show")
def show(outage_id: int = OUTAGE_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """An outage, its exclusion and the whole trail of changes to it."""

    async def work(context: CommandContext) -> dict[str, Any]:
        async def get(uptime: UptimeService) -> OutageDetail:
            return await uptime.outage(outage_id)

        return await _detail(context, get)

    record = run(work)
    if as_json:
        print_json(record)
        return
    print_detail(record)


@app.command("exclude")
def exclude(
    outage_id: int = OUTAGE_ARGUMENT,
    reason: int = typer.Option(
        ..., "--reason", min=1, max=6, help=f"EV-ChART excluded_outage_reason: {REASONS}"
    ),
    note: str = typer.Option(..., "--note", help="Why it is outside the operator's control"),
    evidence: str = typer.Option(
        ..., "--evidence", help="Reference to the proof (ticket, utility notice, police report)"
    ),
    excluded_minutes: str | None = typer.Option(
        None, "--minutes", help="Exclude only the outage's first N minutes (default: all of it)"
    ),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Exclude an outage from T_outage's net (§680.116(b)(1)); kept in the trail."""
    why, proof, maker = text(note, "--note"), text(evidence, "--evidence", 500), who(by)
    amount: Decimal | None = None
    if excluded_minutes is not None:
        try:
            amount = Decimal(excluded_minutes)
        except InvalidOperation:
            exit_with_error(f"--minutes must be a number, not {excluded_minutes!r}")
        if not amount.is_finite():
            exit_with_error("--minutes must be a finite number")

    async def work(context: CommandContext) -> dict[str, Any]:
        async def change(uptime: UptimeService) -> OutageDetail:
            return await uptime.exclude(
                outage_id,
                reason=reason,
                note=why,
                evidence=proof,
                by=maker,
                excluded_minutes=amount,
            )

        return await _detail(context, change)

    record = run(work)
    if as_json:
        print_json(record)
        return
    console.print(
        f"outage {outage_id} excluded (reason {reason}): {record['excluded_minutes']} of its "
        f"{record['minutes']} minutes{' so far' if record['ongoing'] else ''}"
    )


@app.command("unexclude")
def unexclude(
    outage_id: int = OUTAGE_ARGUMENT,
    note: str = typer.Option(..., "--note", help="Why the exclusion no longer holds"),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Withdraw an outage's exclusion (the operator's or maintenance's); kept in the trail."""
    why, maker = text(note, "--note"), who(by)

    async def work(context: CommandContext) -> dict[str, Any]:
        async def change(uptime: UptimeService) -> OutageDetail:
            return await uptime.unexclude(outage_id, note=why, by=maker)

        return await _detail(context, change)

    record = run(work)
    if as_json:
        print_json(record)
        return
    console.print(f"outage {outage_id} is no longer excluded")


@app.command("rebuild")
def rebuild(
    stations: list[str] | None = STATIONS_OPTION,
    port: str | None = PORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Derive the outages again from the status history and sessions (ids are kept)."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from dataclasses import asdict

        from hub.persistence.session import session_scope

        async with session_scope(context.sessions) as session:
            summary = await service(context, session).rebuild(stations=stations or [], port=port)
            return asdict(summary)

    record = run(work)
    if as_json:
        print_json(record)
        return
    print_record("Ledger rebuilt", record)


@maintenance_app.command("add")
def add_maintenance(
    station: str | None = typer.Option(
        None, "--station", help="Every port of this station (location id or OCPP charger id)"
    ),
    port: str | None = PORT_OPTION,
    start: str = typer.Option(..., "--from", help="Start (ISO date or date-time, UTC)"),
    until: str = typer.Option(
        ...,
        "--until",
        help="End (ISO date-time, UTC, exclusive; a bare date: to the end of that day)",
    ),
    note: str = typer.Option(..., "--note", help="What the maintenance is"),
    by: str | None = BY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Declare scheduled maintenance ahead of time for a port or a station."""
    starts_at, ends_at = when(start, "--from"), when(until, "--until", until=True)
    why, maker = text(note, "--note"), who(by)
    if (station is None) == (port is None):
        exit_with_error("give either --station or --port")

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope

        async with session_scope(context.sessions) as session:
            window = await service(context, session).add_maintenance(
                station=station, port=port, starts_at=starts_at, ends_at=ends_at, note=why, by=maker
            )
            return maintenance_record(window)

    record = run(work)
    if as_json:
        print_json(record)
        return
    console.print(
        f"maintenance {record['id']} declared for {record['scope']}, {record['from']} to "
        f"{record['until']}: outage minutes inside it will be excluded (reason 3)"
    )


@maintenance_app.command("list")
def list_maintenance(
    stations: list[str] | None = STATIONS_OPTION,
    port: str | None = PORT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Maintenance declared for the ports in scope (every port when none is named)."""

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope

        async with session_scope(context.sessions) as session:
            windows = await service(context, session).maintenance(
                stations=stations or [], port=port
            )
            return [maintenance_record(w) for w in windows]

    records = run(work)
    if as_json:
        print_json(records)
        return
    print_table(
        "Scheduled maintenance",
        ["id", "scope", "from", "until", "note", "by", "declared"],
        [
            [r["id"], r["scope"], r["from"], r["until"], r["note"], r["by"], r["declared_at"]]
            for r in records
        ],
    )
