"""``hub tariffs``: tariffs of our parties."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    exit_with_error,
    print_json,
    print_record,
    run,
)
from hub.cli.locations import Column, print_fitted_table, print_report, run_parse
from hub.domain.access import party_label, party_of
from hub.domain.assets import ImportReport
from hub.domain.pricing import Dimension, Money, price_session, tariff_in_effect
from hub.domain.pricing.model import Line

app = typer.Typer(help="Tariffs of our parties.", no_args_is_help=True)


@app.command("import")
def import_tariffs(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="OCPI JSON list of Tariffs"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or update tariffs from OCPI JSON; unchanged ones are left alone."""
    from hub.persistence.session import session_scope
    from hub.roaming.importer import read_tariffs
    from hub.services.tariffs import TariffService

    specs = run_parse(lambda: read_tariffs(file))

    async def work(context: CommandContext) -> ImportReport:
        async with session_scope(context.sessions) as session:
            return await TariffService(session).import_tariffs(specs)

    print_report(f"Imported {file.name}", run(work), as_json)


LIST_COLUMNS = (
    Column("party", whole=True),
    Column("id", whole=True),
    Column("currency", whole=True, drop=2),
    Column("elements", whole=True, drop=1),
    Column("last_updated", drop=3, min_width=12),
)


@app.command("list")
def list_tariffs(as_json: bool = JSON_OPTION) -> None:
    """List tariffs."""
    from hub.persistence.session import session_scope
    from hub.services.tariffs import TariffService

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        async with session_scope(context.sessions) as session:
            rows, _ = await TariffService(session).page()
        return [
            {
                "party": f"{r.country_code}*{r.party_id}",
                "id": r.tariff_id,
                "currency": r.currency,
                "elements": len(r.attributes.get("elements", [])),
                "last_updated": r.last_updated.isoformat(),
            }
            for r in rows
        ]

    records = run(work)
    if as_json:
        print_json(records)
        return
    names = [c.name for c in LIST_COLUMNS]
    print_fitted_table("Tariffs", LIST_COLUMNS, [[r[c] for c in names] for r in records])


@app.command("delete")
def delete(
    party: str = typer.Argument(..., help="The owning party, e.g. US*HPC"),
    tariff_id: str = typer.Argument(...),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a tariff here and at every partner."""
    from hub.persistence.session import session_scope
    from hub.services.tariffs import TariffService

    try:
        owner = party_of(party)
    except ValueError as exc:
        exit_with_error(str(exc))

    async def work(context: CommandContext) -> None:
        async with session_scope(context.sessions) as session:
            await TariffService(session).delete(*owner, tariff_id)

    run(work)
    record = {"party": party_label(owner), "id": tariff_id, "deleted": True}
    if as_json:
        print_json(record)
    else:
        print_record("Deleted", record)


def merged_lines(lines: Sequence[Line]) -> list[Line]:
    """The engine's lines with the contiguous pieces of one billing joined.

    The engine cuts the session wherever any element's restriction could change (e.g. 10
    minutes in, where an idle fee starts), so one element pricing one dimension across such a
    cut comes out as two lines that read as a duplicate. Joined lines keep the first piece's
    explanation; quantities and exact costs add up, so the totals do not change."""
    merged: list[Line] = []
    latest: dict[tuple[Any, ...], int] = {}
    for line in lines:
        key = (line.dimension, line.element, line.component, line.reservation)
        at = latest.get(key)
        if at is not None and line.dimension is not Dimension.FLAT and merged[at].end == line.start:
            held = merged[at]
            merged[at] = replace(
                held,
                end=line.end,
                quantity=held.quantity + line.quantity,
                billed=held.billed + line.billed,
                cost=held.cost + line.cost,
            )
        else:
            latest[key] = len(merged)
            merged.append(line)
    return merged


def _amounts(money: Money, vat_free: bool) -> str:
    if vat_free:
        return f"{money.excl_vat} (no VAT)"
    if money.incl_vat is None:
        return f"{money.excl_vat} / unknown"
    return f"{money.excl_vat} / {money.incl_vat}"


@app.command("price")
def price(
    tariff_file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="OCPI Tariff JSON, or a list of versions of one tariff (or pick one with --tariff)",
    ),
    session_file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Session timeline JSON"
    ),
    tariff_id: str | None = typer.Option(
        None, "--tariff", help="The tariff to use when the file holds several (by id)"
    ),
    time_zone: str | None = typer.Option(
        None, help="The Location's IANA time zone (default: from the session file)"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Price a session and explain every line (for disputes).

    SESSION.json: {"time_zone": "America/New_York", "periods": [{"start": ..., "end": ...,
    "energy_kwh": 20.5, "max_power_kw": 150, "max_current_a": 350, "charging": true}, ...],
    "reservation": {"start": ..., "end": ..., "expired": false}} (reservation optional;
    "charging": false marks time the vehicle did not request power, i.e. parking).
    """
    from hub.roaming.pricing import cdr_fields, session_from_json, tariff_versions_from_json

    try:
        try:
            document = json.loads(tariff_file.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"tariff file: not valid JSON ({exc})") from exc
        versions = tariff_versions_from_json(document, tariff_id)
        timeline = session_from_json(session_file.read_text())
        session = timeline.to_session()
        zone = time_zone or timeline.time_zone
        if zone is None:
            raise ValueError("no time zone: pass --time-zone or set time_zone in the session file")
        tariff = tariff_in_effect(versions, session.start)
        result = price_session(tariff, session, zone)
    except ZoneInfoNotFoundError:
        exit_with_error(f"unknown time zone {zone!r}: use an IANA name, e.g. America/New_York")
    except ValueError as exc:
        exit_with_error(str(exc))
    local = ZoneInfo(zone)
    lines = merged_lines(result.lines)
    if as_json:
        print_json(
            {
                **cdr_fields(result),
                "tariff_version": tariff.valid_from.isoformat() if tariff.valid_from else None,
                "lines": [
                    {
                        "dimension": line.dimension.value,
                        "from": line.start.isoformat(),
                        "to": line.end.isoformat(),
                        "element": line.element + 1,
                        "why": line.why,
                        "quantity": str(line.quantity),
                        "billed": str(line.billed),
                        "price": str(line.component.price),
                        "vat": str(line.component.vat) if line.component.vat is not None else None,
                        "cost_excl_vat": str(line.cost.excl_vat),
                        "cost_incl_vat": str(line.cost.incl_vat)
                        if line.cost.incl_vat is not None
                        else None,
                    }
                    for line in lines
                ],
                "adjustments": list(result.adjustments),
            }
        )
        return
    # A tariff without any VAT (omitted or 0 in every component): incl. VAT = excl. VAT, so
    # one cost column says it all.
    vat_free = all(not c.vat for e in tariff.elements for c in e.components)
    units = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "FLAT": ""}
    rows = [
        [
            line.dimension.value + (" (reservation)" if line.reservation else ""),
            f"{line.start.astimezone(local):%a %H:%M}-{line.end.astimezone(local):%H:%M}",
            f"#{line.element + 1}",
            line.why,
            f"{line.quantity:.4f} {units[line.dimension.value]}".rstrip(),
            f"{line.billed:.4f}",
            f"{line.component.price} (step {line.component.step_size}, "
            + (f"VAT {line.component.vat}%)" if line.component.vat is not None else "no VAT)"),
            f"{line.cost.excl_vat:.4f}",
            *(
                []
                if vat_free
                else [f"{line.cost.incl_vat:.4f}" if line.cost.incl_vat is not None else "unknown"]
            ),
        ]
        for line in lines
    ]
    columns = (
        Column("dimension", whole=True),
        Column("when", min_width=11),
        Column("element", whole=True),
        Column("why", min_width=12),
        Column("measured", whole=True, drop=2),
        Column("billed", whole=True, drop=3),
        Column("price", min_width=12, drop=1),
        *(
            [Column("cost (no VAT)", whole=True)]
            if vat_free
            else [Column("excl VAT", whole=True), Column("incl VAT", whole=True)]
        ),
    )
    print_fitted_table(f"Tariff {tariff.id} ({result.currency}), times in {zone}", columns, rows)
    totals = {
        "total_cost": result.total_cost,
        "total_energy_cost": result.total_energy_cost,
        "total_time_cost": result.total_time_cost,
        "total_parking_cost": result.total_parking_cost,
        "total_fixed_cost": result.total_fixed_cost,
        "total_reservation_cost": result.total_reservation_cost,
    }
    record = {k: _amounts(v, vat_free) for k, v in totals.items() if v is not None}
    record.update(
        total_energy=f"{result.total_energy} kWh",
        total_time=f"{result.total_time} h",
        total_parking_time=f"{result.total_parking_time} h",
    )
    for note in result.adjustments:
        record[note.split(":")[0]] = note
    record["rounding"] = (
        "exact Decimal arithmetic; totals rounded half-up to cents once, at the end"
    )
    title = (
        "Totals (no VAT: incl. VAT = excl. VAT)" if vat_free else "Totals (excl. VAT / incl. VAT)"
    )
    print_record(title, record)
