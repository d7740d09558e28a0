"""``hub push``: the outbox of changes pushed to partners."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime
from typing import Any

import typer

from hub.cli.common import JSON_OPTION, CommandContext, console, print_json, print_table, run

app = typer.Typer(help="Pushes of locations and tariffs to partners.", no_args_is_help=True)

REJECTIONS_SHOWN = 20


@app.command("status")
def status(as_json: bool = JSON_OPTION) -> None:
    """Queue per partner: pending (of which retrying and in flight), delivered, superseded,
    rejected; and the objects whose current version a partner refused (final until they
    change), with its answer."""
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
                "rejections": by_partner.get(partner.require_id(), []),
            }
            for partner, stats in rows
        ]

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = [c for c in records[0] if c != "rejections"] if records else ["partner"]
    print_table("Push queues", columns, [[r[c] for c in columns] for r in records])
    refused = [(r["partner"], x) for r in records for x in r["rejections"]]
    if refused:
        print_table(
            f"Objects refused by partners (newest {REJECTIONS_SHOWN} per partner)",
            ["partner", "object", "kind", "error"],
            [[name, x["object"], x["kind"], x["error"]] for name, x in refused],
        )


@app.command("work")
def work_command(
    once: bool = typer.Option(False, "--once", help="One delivery round, then exit"),
) -> None:
    """Run a delivery worker in this process (in addition to the one in `hub serve`).

    On PostgreSQL several workers share the queue safely; on SQLite run only one. Each worker
    takes the lowest free slot of this machine (`{node_name}/{slot}`), and gives back at once the
    claims a killed predecessor left under that name.
    """
    from hub.roaming.push import PushWorker

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    async def body(context: CommandContext) -> int:
        worker = PushWorker(context.sessions, context.http, context.settings.push)
        if once:
            try:
                return await worker.run_once()
            finally:
                worker.close()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(stop)
        return 0

    handled = run(body)
    if once:
        console.print(f"handled {handled} jobs")
