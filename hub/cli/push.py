"""``hub push``: the outbox of changes pushed to partners."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from typing import Any

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    print_json,
    print_record,
    print_table,
    run,
    settings,
)

app = typer.Typer(help="Pushes of locations and tariffs to partners.", no_args_is_help=True)

REJECTIONS_SHOWN = 20


@app.command("status")
def status(as_json: bool = JSON_OPTION) -> None:
    """Queue per partner: pending (of which retrying and in flight), delivered, superseded,
    rejected, when the next retry is due, and the partner's last delivery error; and the
    objects whose current version a partner refused (final until they change), with its
    answer."""
    from hub.persistence.session import session_scope
    from hub.services.push import PushService

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        async with session_scope(context.sessions) as session:
            service = PushService(session)
            rows = await service.stats()
            by_partner = {
                partner.require_id(): [
                    {"object": r.object, "kind": r.kind.value, "error": r.error}
                    for r in await service.rejections(partner.require_id(), limit=REJECTIONS_SHOWN)
                ]
                for partner, stats in rows
                if stats and stats.rejected_objects
            }
        now = datetime.now(UTC)
        return [
            {
                "partner": partner.name,
                "status": partner.status,
                "health": "degraded" if partner.push_degraded else "ok",
                "consecutive_failures": partner.push_failures,
                "pending": stats.pending if stats else 0,
                "retrying": stats.retrying if stats else 0,
                "in_flight": stats.in_flight if stats else 0,
                "delivered": stats.delivered if stats else 0,
                "superseded": stats.superseded if stats else 0,
                "rejected": stats.rejected if stats else 0,
                "rejected_objects": stats.rejected_objects if stats else 0,
                "oldest_pending_s": round((now - stats.oldest_pending).total_seconds(), 1)
                if stats and stats.oldest_pending
                else None,
                "next_retry_at": _iso(stats.next_retry) if stats else None,
                "last_error": partner.push_last_error,
                "last_error_at": _iso(partner.push_last_error_at),
                "rejections": by_partner.get(partner.require_id(), []),
            }
            for partner, stats in rows
        ]

    records = run(work)
    if as_json:
        print_json(records)
        return
    now = datetime.now(UTC)
    # Five columns, figures grouped in cells, so that the table reads in 80 columns.
    print_table(
        "Push queues",
        ["partner", "status", "pending", "done", "next retry"],
        [_queue_row(r, now) for r in records],
    )
    failed = [r for r in records if r["last_error"]]
    if failed:
        print_table(
            "Last delivery error per partner (it counted against the partner's health)",
            ["partner", "at", "error"],
            [
                [r["partner"], _when(r["last_error_at"], now, short=True), r["last_error"]]
                for r in failed
            ],
        )
    refused = [(r["partner"], x) for r in records for x in r["rejections"]]
    if refused:
        print_table(
            f"Objects refused by partners (newest {REJECTIONS_SHOWN} per partner)",
            ["partner", "object", "kind", "error"],
            [[name, x["object"], x["kind"], x["error"]] for name, x in refused],
        )


def _queue_row(record: dict[str, Any], now: datetime) -> list[Any]:
    status = [record["status"], record["health"]]
    if record["consecutive_failures"]:
        status.append(f"{record['consecutive_failures']} failures in a row")
    pending = [str(record["pending"])]
    pending += [
        f"{record[key]} {words}"
        for key, words in (("retrying", "retrying"), ("in_flight", "in flight"))
        if record[key]
    ]
    if record["oldest_pending_s"] is not None:
        pending.append(f"oldest {record['oldest_pending_s']}s")
    done = [f"{record['delivered']} delivered"]
    done += [f"{record[key]} {key}" for key in ("superseded", "rejected") if record[key]]
    if record["rejected_objects"]:
        done.append(f"({record['rejected_objects']} objects refused now)")
    return [
        record["partner"],
        "\n".join(status),
        "\n".join(pending),
        "\n".join(done),
        _when(record["next_retry_at"], now, short=True),
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _when(iso: str | None, now: datetime, *, short: bool = False) -> str | None:
    """A time in a table: how far from now, and UTC to the second (``short``: on two lines,
    without the date when it is today's)."""
    if iso is None:
        return None
    moment = datetime.fromisoformat(iso)
    seconds = round((moment - now).total_seconds())
    span = abs(seconds)
    words = f"{span}s" if span < 120 else f"{span // 60}m" if span < 7200 else f"{span // 3600}h"
    relative = f"in {words}" if seconds > 0 else f"{words} ago"
    if short:
        same_day = moment.date() == now.date()
        return f"{relative}\n{moment:%H:%M:%S}Z" if same_day else f"{relative}\n{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M:%S}Z ({relative})"


@app.command("work")
def work_command(
    once: bool = typer.Option(False, "--once", help="One delivery round, then exit"),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary as one JSON line instead of a table."
    ),
) -> None:
    """Run a delivery worker in this process (in addition to the one in `hub serve`).

    On PostgreSQL several workers share the queue safely; on SQLite run only one. Each worker
    takes the lowest free slot of this machine (`{node_name}/{slot}`), and gives back at once the
    claims a killed predecessor left under that name. It logs to stderr; when it stops (SIGINT,
    SIGTERM, or after one round with --once) it prints what it did: rounds, jobs, delivered,
    failed (retried later), rejected (refused for good), sent_as_put, nothing_to_send, held
    (until a hub reports their receiver party CONNECTED).
    """
    from hub import logs
    from hub.roaming.push import PushWorker

    current = settings()
    logs.configure_logging(current.log_level, current.log_format)

    async def body(context: CommandContext) -> dict[str, Any]:
        worker = PushWorker(context.sessions, context.http, context.settings.push)
        if once:
            try:
                await worker.run_once()
            finally:
                worker.close()
        else:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await worker.run(stop)
        return worker.totals.as_dict()

    totals = run(body)
    if as_json:
        typer.echo(json.dumps(totals, separators=(",", ":")))
    else:
        print_record(f"Push worker {totals['worker']} stopped", totals)
