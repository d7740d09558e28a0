"""``hub reports``: compliance reports. ``uptime``: every port's NEVI uptime at a glance
(README "NEVI uptime"); its records and HTML page are built in ``hub.cli.uptime_report``.
``evchart`` writes the quarterly EV-ChART files of NEVI (Modules 2, 3 and 4, 23 CFR
680.112(a)) with their SHA-256 checksum, and checks a file against EV-ChART's rules before it
is submitted."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
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
    warn,
)
from hub.domain import evchart

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.services.evchart import UptimeSource

app = typer.Typer(help="Compliance reports: NEVI uptime, EV-ChART exports.", no_args_is_help=True)


@app.command("uptime")
def uptime(
    stations: list[str] | None = typer.Option(
        None, "--station", help="Only this station (location id or OCPP charger id); repeat it"
    ),
    below: float | None = typer.Option(
        None,
        "--below",
        min=0,
        max=100,
        help="Only ports under this mu (first-year ports: their provisional figure), and "
        "every port whose history is missing",
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML page with the charts here"
    ),
    at: str | None = typer.Option(
        None, "--at", help="The report's instant (ISO date or date-time, UTC; default: now)"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Ports with mu over the rule's year to now, T_outage, T_excluded and the minutes of
    budget left (15,768 minus the net outage)."""
    from hub.cli.outages import when

    as_of = when(at, "--at") if at is not None else None
    threshold = Decimal(str(below)) if below is not None else Decimal(97)
    if html is not None and html.exists() and html.is_dir():
        exit_with_error(f"--html {html} is a directory")

    async def work(context: CommandContext) -> tuple[Any, Any]:
        from hub.cli.uptime_report import ReportRow
        from hub.persistence.base import utc_now
        from hub.persistence.session import session_scope
        from hub.services.uptime import UptimeService

        settings = context.settings.uptime
        now = utc_now()
        moment = as_of or now
        if moment > now:
            exit_with_error("--at is in the future: the ledger knows nothing after now")
        async with session_scope(context.sessions) as session:
            # Rebuilt as of now (what the trail records happens now), reported as of --at.
            await UptimeService(
                session, rule=settings.rule(), history_since=settings.history_since
            ).rebuild(stations=stations or [])
            service = UptimeService(
                session,
                rule=settings.rule(),
                clock=lambda: moment,
                history_since=settings.history_since,
            )
            reports = await service.report(stations=stations or [], rebuild=False)
        return moment, [ReportRow(r) for r in reports]

    moment, rows = run(work)
    if below is not None:
        rows = [row for row in rows if row.below(threshold)]
    records = [row.record for row in rows]
    if html is not None:
        from hub.cli.uptime_report import render_html

        try:
            html.write_text(render_html(rows, as_of=moment, threshold=threshold))
        except OSError as exc:
            exit_with_error(f"cannot write {html}: {exc.strerror or exc}")
    missing = [r["port_id"] for r in records if r["missing_history"]]
    if missing:
        warn(
            f"{len(missing)} port(s) with missing history, whose mu is not known (never "
            f"100%): {', '.join(missing)}"
        )
    if as_json:
        print_json(records)
        return
    print_table(
        "NEVI uptime (the rule's year to " + moment.isoformat().replace("+00:00", "Z") + ")",
        ["station", "port", "mu %", "outage min", "excluded min", "net min", "budget left", "note"],
        [
            [
                r["station_id"],
                r["port_id"],
                r["uptime"] or "-",
                r["outage_minutes"],
                r["excluded_minutes"],
                r["net_outage_minutes"],
                r["budget_left_minutes"] or "-",
                "missing history"
                if r["missing_history"]
                else (
                    f"first year ({r['provisional_uptime'] or '-'}% so far)"
                    if r["first_year"]
                    else ""
                ),
            ]
            for r in records
        ],
    )
    if html is not None:
        console.print(f"wrote {html}")


def uptime_source(session: AsyncSession) -> UptimeSource:
    """Where Modules 3 and 4 take their uptimes and outages: the uptime ledger."""
    from hub.config import get_settings
    from hub.services.evchart import LedgerUptimeSource
    from hub.services.uptime import UptimeService

    settings = get_settings().uptime
    return LedgerUptimeSource(
        UptimeService(session, rule=settings.rule(), history_since=settings.history_since)
    )


def _quarter(value: str | None) -> evchart.Quarter:
    if value is None:
        raise typer.BadParameter("required to write a report", param_hint="--quarter")
    try:
        return evchart.Quarter.parse(value)
    except evchart.EvchartError as exc:
        raise typer.BadParameter(str(exc), param_hint="--quarter") from exc


@app.command("evchart")
def evchart_report(
    module: int | None = typer.Option(
        None, "--module", min=2, max=4, help="EV-ChART module: 2 sessions, 3 uptime, 4 outages"
    ),
    quarter: str | None = typer.Option(None, "--quarter", help="The quarter, e.g. 2026Q3"),
    station: list[str] | None = typer.Option(
        None, "--station", help="Only this NEVI station (location id); repeatable"
    ),
    out: Path | None = typer.Option(
        None, "--out", dir_okay=False, help="The CSV to write (FILE.sha256 is written beside it)"
    ),
    check: Path | None = typer.Option(
        None,
        "--check",
        exists=True,
        dir_okay=False,
        help="Check this CSV against EV-ChART's rules instead (its module from the header "
        "unless --module)",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write an EV-ChART Module 2, 3 or 4 CSV for a quarter, or --check one."""
    if check is not None:
        check_file(check, module, as_json=as_json)
        return
    if module is None:
        raise typer.BadParameter("2, 3 or 4", param_hint="--module")
    period = _quarter(quarter)
    if out is None:
        raise typer.BadParameter("the CSV to write", param_hint="--out")
    if not out.parent.is_dir():
        raise typer.BadParameter(f"no directory {out.parent}", param_hint="--out")
    if out.is_dir():
        raise typer.BadParameter(f"{out} is a directory", param_hint="--out")

    from hub.persistence.session import session_scope
    from hub.services.evchart import EvchartService, load_vocabulary

    async def work(context: CommandContext) -> dict[str, Any]:
        nevi = context.settings.nevi
        async with session_scope(context.sessions) as session:
            service = EvchartService(
                session,
                network_provider=nevi.network_provider,
                vocabulary=load_vocabulary(nevi.vocabulary_file),
                source=uptime_source(session),
            )
            report = await service.report(module, period, station)
            written = await service.write(report, out)
        return {
            "module": module,
            "quarter": str(period),
            "stations": len(report.stations),
            "rows": written.rows,
            "file": str(written.path),
            "sha256": written.sha256,
            "checksum_file": str(written.checksum_path),
            "notes_file": str(written.notes_path) if written.notes_path else None,
            "notes": report.notes,
        }

    record = run(work)
    if as_json:
        print_json(record)
        return
    for note in record["notes"]:
        warn(note)
    shown = {key: value for key, value in record.items() if key != "notes"}
    print_record(f"EV-ChART Module {module} ({evchart.MODULES[module].title}), {period}", shown)


def check_file(path: Path, module: int | None, *, as_json: bool) -> None:
    """Run the validator on a file; exit 1 listing the problems."""
    import csv

    try:
        with path.open(encoding="utf-8", newline="") as stream:
            header = next(csv.reader(stream), [])
            number = module or evchart.detect_module(header)
            if number is None:
                exit_with_error(
                    f"{path}: its header is not that of Module 2, 3 or 4; name it with --module"
                )
            stream.seek(0)
            problems = evchart.check(number, stream)
    except UnicodeDecodeError as exc:
        exit_with_error(f"{path} is not UTF-8 text: {exc}")
    if as_json:
        print_json(
            {
                "file": str(path),
                "module": number,
                "problems": [
                    {"row": p.row, "column": p.column, "message": p.message} for p in problems
                ],
            }
        )
    elif not problems:
        console.print(f"{path}: Module {number}, no problems", highlight=False, soft_wrap=True)
    else:
        for problem in problems:
            console.print(f"{path}: {problem}", highlight=False, soft_wrap=True)
        console.print(f"{len(problems)} problem(s)", highlight=False)
    if problems:
        raise typer.Exit(1)
