"""``hub sessions``: charging sessions as the operator sees them (live energy and running cost),
those whose driver's token has no known eMSP, those held for review, and the operator's
decision about the latter: release (bill it) or invalidate (never bill it).

Operator-only: partners see their own sessions through OCPI, never these views.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
from hub.domain.access import party_label

if TYPE_CHECKING:
    from hub.domain.pricing import PricingResult, Tariff
    from hub.persistence.tables import ChargeDetailRecord, ChargingSession

app = typer.Typer(
    help="Charging sessions: live energy and cost, unassigned ones, the review queue.",
    no_args_is_help=True,
)

REFERENCE_ARGUMENT = typer.Argument(..., help="The OCPI session id or the transaction id")
PARTNER_OPTION = typer.Option(None, "--partner", help="Only this eMSP's (partner name)")
STATION_OPTION = typer.Option(None, "--station", help="Only at this charging station (its id)")
LIMIT_OPTION = typer.Option(50, "--limit", min=1, max=10_000, help="How many to show, newest first")
REASON_LENGTH = 200


def moment(value: str | None, *, until: bool = False) -> datetime | None:
    """A ``--since``/``--until`` value: an ISO date or date-time, UTC unless it names its
    offset. A bare date given to ``--until`` includes that whole day (until is exclusive)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if until else start
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        option = "--until" if until else "--since"
        raise typer.BadParameter(
            "an ISO date (2026-11-24) or date-time (2026-11-24T10:00:00Z)", param_hint=option
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


SINCE_OPTION = typer.Option(
    None, "--since", help="Only those started at or after (ISO date or date-time, UTC)"
)
UNTIL_OPTION = typer.Option(
    None, "--until", help="Only those started before (a bare date: up to the end of that day)"
)


def reason_text(value: str, *, limit: int = REASON_LENGTH) -> str:
    text = value.strip()
    if not text:
        raise typer.BadParameter("say why", param_hint="--reason")
    if len(text) > limit:
        raise typer.BadParameter(f"at most {limit} characters", param_hint="--reason")
    return text


def kwh_text(value: Decimal | None) -> str | None:
    """Energy as exact as stored, without trailing zeros (20, 12.345)."""
    if value is None:
        return None
    return format(value.normalize(), "f") if value else "0"


def money_text(value: Decimal | int | float | str | None) -> str | None:
    """Money to the cent (9.60), or to the hundredth of a cent when it has those (0.1234)."""
    if value is None:
        return None
    amount = Decimal(str(value))
    cents = amount.quantize(Decimal("0.01"))
    return str(cents) if cents == amount else format(amount.normalize(), "f")


def iso(moment_: datetime | None) -> str | None:
    """A moment as OCPI writes it (2026-11-24T10:00:00Z), to the second."""
    if moment_ is None:
        return None
    return moment_.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def session_record(row: ChargingSession, partner_name: str | None) -> dict[str, Any]:
    token_party = (
        party_label((row.token_country_code, row.token_party_id))
        if row.token_country_code and row.token_party_id
        else None
    )
    return {
        "session_id": row.session_id,
        "transaction_id": row.transaction_id,
        "cpo": party_label((row.country_code, row.party_id)),
        "station": row.station_id,
        "ocpp_version": row.ocpp_version,
        "location_id": row.location_id,
        "evse_uid": row.evse_uid,
        "connector_id": row.connector_id,
        "status": row.status,
        "start_date_time": iso(row.start_date_time),
        "end_date_time": iso(row.end_date_time),
        "kwh": kwh_text(row.kwh),
        "max_power_kw": kwh_text(row.max_power_kw),
        "currency": row.currency,
        "total_cost_excl_vat": money_text(row.total_cost_excl_vat),
        "total_cost_incl_vat": money_text(row.total_cost_incl_vat),
        "tariff_id": row.tariff_id,
        "partner": partner_name,
        "token_party": token_party,
        "token_uid": row.token_uid,
        "token_type": row.token_type,
        "contract_id": row.contract_id,
        "auth_method": row.auth_method,
        "held_for_review": row.held_for_review,
        "problems": list(row.problems or []),
        "stop_reason": row.stop_reason,
        "close_reason": row.close_reason,
        "session_error": row.session_error,
        "cdr_made": row.cdr_made,
        "last_updated": iso(row.last_updated),
    }


def cdr_record(cdr: ChargeDetailRecord, partner_name: str | None) -> dict[str, Any]:
    body: Mapping[str, Any] = cdr.body
    total = body.get("total_cost") or {}
    return {
        "cdr_id": cdr.cdr_id,
        "cpo": party_label((cdr.country_code, cdr.party_id)),
        "session_id": body.get("session_id"),
        "partner": partner_name,
        "token_party": party_label((cdr.token_country_code, cdr.token_party_id)),
        "credit": cdr.credit,
        "credit_reference_id": cdr.credit_reference_id,
        "start_date_time": body.get("start_date_time"),
        "end_date_time": body.get("end_date_time"),
        "total_energy": kwh_text(cdr.total_energy),
        "currency": body.get("currency"),
        "total_cost_excl_vat": money_text(total.get("excl_vat")),
        "total_cost_incl_vat": money_text(total.get("incl_vat")),
        "remark": body.get("remark"),
        "created_at": iso(cdr.created_at),
        "delivered_at": iso(cdr.delivered_at),
        "location_url": cdr.location_url,
    }


def partner_of(names: Mapping[int, str], partner_id: int | None) -> str | None:
    return names.get(partner_id) if partner_id is not None else None


def cost_text(record: Mapping[str, Any], key: str = "total_cost_excl_vat") -> str:
    amount = record.get(key)
    return f"{amount} {record.get('currency') or ''}".strip() if amount is not None else ""


class LazyCodec:
    """``hub.services.sessions.TariffCodec`` of the roaming adapter, imported when a command
    first prices something: the listings never do, and stay as quick as the other groups'."""

    def tariff(self, snapshot: Mapping[str, Any]) -> Tariff:
        from hub.roaming.pricing import OcpiTariffCodec

        return OcpiTariffCodec().tariff(snapshot)

    def priced_fields(self, result: PricingResult) -> dict[str, Any]:
        from hub.roaming.pricing import OcpiTariffCodec

        return OcpiTariffCodec().priced_fields(result)


def _listing(
    title: str,
    *,
    partner: str | None = None,
    station: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
    unassigned: bool = False,
    review: bool = False,
) -> None:
    start, end = moment(since), moment(until, until=True)

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope
        from hub.services.session_admin import SessionAdminService

        async with session_scope(context.sessions) as session:
            rows = await SessionAdminService(session, codec=LazyCodec()).list_sessions(
                partner=partner,
                station=station,
                since=start,
                until=end,
                unassigned=unassigned,
                review=review,
                limit=limit,
            )
            return [session_record(row, name) for row, name in rows]

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = ["session_id", "transaction", "station", "status", "started", "kWh", "cost"]
    columns += ["token"] if unassigned else ["partner"]
    columns += ["problems"] if review else []
    rows = []
    for r in records:
        row: list[Any] = [
            r["session_id"],
            r["transaction_id"],
            r["station"],
            r["status"],
            r["start_date_time"],
            r["kwh"],
            cost_text(r),
        ]
        if unassigned:  # whose card it is, for finding its eMSP
            row.append(f"{r['token_uid'] or '?'} ({r['token_type'] or 'no type'})")
        else:
            row.append(r["partner"])
        if review:
            row.append("; ".join(r["problems"]))
        rows.append(row)
    print_table(title, columns, rows)
    if len(records) == limit:
        console.print(f"the newest {limit} are shown; --limit shows more")


@app.command("list")
def list_sessions(
    partner: str | None = PARTNER_OPTION,
    station: str | None = STATION_OPTION,
    since: str | None = SINCE_OPTION,
    until: str | None = UNTIL_OPTION,
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sessions, newest first, with their energy and cost so far."""
    _listing(
        "Sessions",
        partner=partner,
        station=station,
        since=since,
        until=until,
        limit=limit,
        as_json=as_json,
    )


@app.command("unassigned")
def unassigned(
    station: str | None = STATION_OPTION,
    since: str | None = SINCE_OPTION,
    until: str | None = UNTIL_OPTION,
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sessions whose token has no known eMSP: sent to nobody, billed to nobody."""
    _listing(
        "Sessions of tokens no partner owns",
        station=station,
        since=since,
        until=until,
        limit=limit,
        as_json=as_json,
        unassigned=True,
    )


@app.command("review")
def review(
    partner: str | None = PARTNER_OPTION,
    station: str | None = STATION_OPTION,
    since: str | None = SINCE_OPTION,
    until: str | None = UNTIL_OPTION,
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Sessions held for review (not billed until released), with their problems."""
    _listing(
        "Sessions held for review",
        partner=partner,
        station=station,
        since=since,
        until=until,
        limit=limit,
        as_json=as_json,
        review=True,
    )


@app.command("show")
def show(reference: str = REFERENCE_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """One session (by its OCPI id or transaction id): energy, cost, problems and its CDRs."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.session_admin import SessionAdminService

        async with session_scope(context.sessions) as session:
            view = await SessionAdminService(session, codec=LazyCodec()).show(reference)
            record = session_record(view.session, view.partner_name)
            record["cdrs"] = [cdr_record(cdr, view.partner_name) for cdr in view.cdrs]
            return record

    record = run(work)
    if as_json:
        print_json(record)
        return
    cdrs = record["cdrs"]
    shown = {
        key: value for key, value in record.items() if key not in ("cdrs", "problems", "currency")
    }
    shown["total_cost_excl_vat"] = cost_text(record)
    shown["total_cost_incl_vat"] = cost_text(record, "total_cost_incl_vat")
    shown["problems"] = "\n".join(record["problems"]) or None
    print_record(f"Session {record['session_id']}", shown)
    if cdrs:
        columns = ["cdr_id", "credit", "kWh", "cost", "created", "delivered"]
        print_table(
            "CDRs",
            columns,
            [
                [
                    c["cdr_id"],
                    f"credits {c['credit_reference_id']}" if c["credit"] else "",
                    c["total_energy"],
                    cost_text(c),
                    c["created_at"],
                    c["delivered_at"] or "not yet",
                ]
                for c in cdrs
            ],
        )
    else:
        console.print("No CDR.")


@app.command("release")
def release(
    reference: str = REFERENCE_ARGUMENT,
    reason: str = typer.Option(..., "--reason", help="Why it may be billed (kept on the session)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Release a session held for review: its CDR is made (once it is over) and queued for
    its eMSP."""
    why = reason_text(reason)

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.session_admin import SessionAdminService

        async with session_scope(context.sessions) as session:
            service = SessionAdminService(session, codec=LazyCodec())
            outcome = await service.release(reference, why)
            name = partner_of(await service.partner_names(), outcome.session.partner_id)
            return {
                "session": session_record(outcome.session, name),
                "cdr": cdr_record(outcome.cdr, name) if outcome.cdr is not None else None,
            }

    record = run(work)
    if as_json:
        print_json(record)
        return
    session, cdr = record["session"], record["cdr"]
    console.print(f"Session {session['session_id']} is released.")
    if cdr is not None:
        whom = f"queued for {session['partner']}" if session["partner"] else "no eMSP to send it to"
        console.print(f"CDR {cdr['cdr_id']} ({cost_text(cdr)}): {whom}.")
    elif session["end_date_time"] is None:
        console.print("Its CDR is made when it ends.")
    else:
        console.print("Nothing to bill: no energy delivered, nothing owed.")


@app.command("invalidate")
def invalidate(
    reference: str = REFERENCE_ARGUMENT,
    reason: str = typer.Option(..., "--reason", help="Why it is never billed (kept on it)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Declare a session INVALID: never billed (a session with a CDR is credited instead)."""
    why = reason_text(reason)

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.session_admin import SessionAdminService

        async with session_scope(context.sessions) as session:
            service = SessionAdminService(session, codec=LazyCodec())
            row = await service.invalidate(reference, why)
            return session_record(row, partner_of(await service.partner_names(), row.partner_id))

    record = run(work)
    if as_json:
        print_json(record)
        return
    console.print(f"Session {record['session_id']} is INVALID: it is never billed.")
