"""``hub cdrs``: the CDRs made (the bills sent to eMSPs), and crediting one.

A CDR is never changed: a wrong one is credited (a credit CDR with its costs negated) and, with
``--corrected``, billed again from the session's data as a new CDR. Operator-only.
"""

from __future__ import annotations

from typing import Any

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    console,
    print_json,
    print_record,
    print_table,
    run,
)
from hub.cli.sessions import (
    LIMIT_OPTION,
    PARTNER_OPTION,
    STATION_OPTION,
    LazyCodec,
    cdr_record,
    cost_text,
    moment,
    money_text,
    partner_of,
    reason_text,
)

app = typer.Typer(
    help="CDRs sent to eMSPs, and credit CDRs correcting them.",
    no_args_is_help=True,
)

CDR_ID_ARGUMENT = typer.Argument(..., help="The CDR's id")
REMARK_LENGTH = 255
"""The reason becomes the credit CDR's ``remark``: OCPI string(255)."""


@app.command("list")
def list_cdrs(
    partner: str | None = PARTNER_OPTION,
    station: str | None = STATION_OPTION,
    since: str | None = typer.Option(
        None, "--since", help="Only those made at or after (ISO date or date-time, UTC)"
    ),
    until: str | None = typer.Option(
        None, "--until", help="Only those made before (a bare date: up to the end of that day)"
    ),
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """CDRs, newest first (credit CDRs and corrected ones included)."""
    start, end = moment(since), moment(until, until=True)

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope
        from hub.services.session_admin import SessionAdminService

        async with session_scope(context.sessions) as session:
            rows = await SessionAdminService(session, codec=LazyCodec()).list_cdrs(
                partner=partner, station=station, since=start, until=end, limit=limit
            )
            return [cdr_record(cdr, name) for cdr, name in rows]

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = ["cdr_id", "session_id", "partner", "kWh", "cost", "credit", "created", "delivered"]
    print_table(
        "CDRs",
        columns,
        [
            [
                r["cdr_id"],
                r["session_id"],
                r["partner"],
                r["total_energy"],
                cost_text(r),
                "credit" if r["credit"] else "",
                r["created_at"],
                r["delivered_at"] or "not yet",
            ]
            for r in records
        ],
    )
    if len(records) == limit:
        console.print(f"the newest {limit} are shown; --limit shows more")


@app.command("show")
def show(cdr_id: str = CDR_ID_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """One CDR: its totals, whom it went to, its credit if any; --json adds the OCPI CDR as
    sent."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.session_admin import SessionAdminService

        async with session_scope(context.sessions) as session:
            view = await SessionAdminService(session, codec=LazyCodec()).show_cdr(cdr_id)
            record = cdr_record(view.cdr, view.partner_name)
            record["session_id"] = view.session_id
            record["credited_by"] = view.credited_by.cdr_id if view.credited_by else None
            record["cdr"] = view.cdr.body
            return record

    record = run(work)
    if as_json:
        print_json(record)
        return
    body = record["cdr"]
    shown = {k: v for k, v in record.items() if k not in ("cdr", "currency")}
    shown["total_cost_excl_vat"] = cost_text(record)
    shown["total_cost_incl_vat"] = cost_text(record, "total_cost_incl_vat")
    for name in ("total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost"):
        price = body.get(name)
        if isinstance(price, dict):
            amount = money_text(price.get("excl_vat"))
            shown[name] = f"{amount} {record['currency'] or ''} excl. VAT"
    print_record(f"CDR {record['cdr_id']}", shown)


@app.command("credit")
def credit(
    cdr_id: str = CDR_ID_ARGUMENT,
    reason: str = typer.Option(
        ..., "--reason", help="Why (sent to the eMSP as the credit CDR's remark)"
    ),
    corrected: bool = typer.Option(
        False, "--corrected", help="Also bill the session again from its current data"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Credit a CDR: a credit CDR (id + "-C", costs negated) is sent to its eMSP; with
    --corrected, then a new CDR (session id + "-R1", "-R2"...) priced again."""
    why = reason_text(reason, limit=REMARK_LENGTH)

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.session_admin import SessionAdminService

        async with session_scope(context.sessions) as session:
            service = SessionAdminService(session, codec=LazyCodec())
            outcome = await service.credit(cdr_id, why, corrected=corrected)
            names = await service.partner_names()

            def record(cdr: Any) -> dict[str, Any] | None:
                return cdr_record(cdr, partner_of(names, cdr.partner_id)) if cdr else None

            return {
                "original": record(outcome.original),
                "credit": record(outcome.credit),
                "corrected": record(outcome.corrected),
                "queued": outcome.queued,
            }

    result = run(work)
    if as_json:
        print_json(result)
        return
    original, credit_cdr, new = result["original"], result["credit"], result["corrected"]
    whom = original["partner"]
    console.print(
        f"CDR {original['cdr_id']} ({cost_text(original)}) is credited by "
        f"{credit_cdr['cdr_id']} ({cost_text(credit_cdr)})."
    )
    if new is not None:
        console.print(
            f"Corrected CDR {new['cdr_id']}: {cost_text(new)}, {new['total_energy']} kWh."
        )
    if whom:
        console.print(f"{result['queued']} CDR(s) queued for {whom}.")
    else:
        console.print("No eMSP is known for it: nothing is sent.")
