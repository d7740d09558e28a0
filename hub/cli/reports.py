"""``hub reports``: compliance reports. ``uptime``: every port's NEVI uptime at a glance
(README "NEVI uptime"); its records and HTML page are built in ``hub.cli.uptime_report``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    console,
    exit_with_error,
    print_json,
    print_table,
    run,
    warn,
)

app = typer.Typer(help="Compliance reports (NEVI uptime).", no_args_is_help=True)


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
