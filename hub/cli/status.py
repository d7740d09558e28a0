"""``hub status``: the hub at a glance, read from the database (the figures of the database
gauges of ``/metrics``, without scraping any process)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.cli.common import CommandContext, console, print_json, print_table, run

if TYPE_CHECKING:
    from hub.services.overview import Overview


def status(*, as_json: bool) -> None:
    from hub.persistence.session import session_scope
    from hub.services.overview import OverviewService

    async def work(context: CommandContext) -> Overview:
        async with session_scope(context.sessions) as session:
            return await OverviewService(session).overview()

    record = as_record(run(work))
    if as_json:
        print_json(record)
        return
    stations = record["stations"]
    print_table(
        "Stations connected",
        ["node", "stations"],
        [
            *([node, count] for node, count in stations["by_node"].items()),
            ["total", stations["total"]],
        ],
    )
    print_table(
        "Push queues",
        ["partner", "status", "pending", "oldest pending", "failures in a row"],
        [
            [
                q["partner"],
                f"{q['status']}\ndegraded" if q["degraded"] else q["status"],
                q["pending"],
                None if q["oldest_pending_s"] is None else f"{q['oldest_pending_s']}s",
                q["consecutive_failures"] or None,
            ]
            for q in record["push"]
        ],
    )
    console.print(f"CDR backlog: {record['cdr_backlog']} not yet delivered", highlight=False)
    degraded = record["degraded_partners"]
    console.print(
        "Partners degraded: "
        + (
            ", ".join(
                f"{d['partner']} ({d['consecutive_failures']} failures in a row)" for d in degraded
            )
            if degraded
            else "none"
        ),
        highlight=False,
    )


def as_record(overview: Overview) -> dict[str, Any]:
    queues = [
        {
            "partner": q.partner,
            "status": q.status,
            "pending": q.pending,
            "oldest_pending_s": round(q.oldest_seconds(overview.at), 1) if q.pending else None,
            "consecutive_failures": q.consecutive_failures,
            "degraded": q.degraded,
        }
        for q in overview.queues
    ]
    return {
        "at": overview.at.isoformat().replace("+00:00", "Z"),
        "stations": {"total": overview.stations_connected, "by_node": overview.stations},
        "push": queues,
        "cdr_backlog": overview.cdr_backlog,
        "degraded_partners": [
            {"partner": q["partner"], "consecutive_failures": q["consecutive_failures"]}
            for q in queues
            if q["degraded"]
        ],
    }
