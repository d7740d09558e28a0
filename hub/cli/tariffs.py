"""``hub tariffs``: tariffs of our parties."""

from __future__ import annotations

import json
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
    print_table,
    run,
)
from hub.cli.locations import print_report, run_parse
from hub.domain.assets import ImportReport
from hub.domain.pricing import price_session, tariff_in_effect

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
    columns = ["party", "id", "currency", "elements", "last_updated"]
    print_table("Tariffs", columns, [[r[c] for c in columns] for r in records])


@app.command("delete")
def delete(
    party: str = typer.Argument(..., help="e.g. US*HPC"), tariff_id: str = typer.Argument(...)
) -> None:
    """Delete a tariff here and at every partner."""
    from hub.persistence.session import session_scope
    from hub.services.tariffs import TariffService

    country_code, _, party_id = party.partition("*")

    async def work(context: CommandContext) -> None:
        async with session_scope(context.sessions) as session:
            await TariffService(session).delete(country_code, party_id, tariff_id)

    run(work)
    print_record("Deleted", {"party": party.upper(), "id": tariff_id})


@app.command("price")
def price(
    tariff_file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="OCPI Tariff JSON (or a list of its versions)"
    ),
    session_file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Session timeline JSON"
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
    from pydantic import ValidationError

    from hub.roaming.pricing import SessionInput, cdr_fields, tariff_versions_from_json

    try:
        versions = tariff_versions_from_json(json.loads(tariff_file.read_text()))
        timeline = SessionInput.model_validate_json(session_file.read_text())
        session = timeline.to_session()
        zone = time_zone or timeline.time_zone
        if zone is None:
            raise ValueError("no time zone: pass --time-zone or set time_zone in the session file")
        tariff = tariff_in_effect(versions, session.start)
        result = price_session(tariff, session, zone)
    except (ValueError, ValidationError, ZoneInfoNotFoundError) as exc:
        exit_with_error(str(exc))
    local = ZoneInfo(zone)
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
                        "element": line.element,
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
                    for line in result.lines
                ],
                "adjustments": list(result.adjustments),
            }
        )
        return
    units = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "FLAT": ""}
    rows = [
        [
            line.dimension.value + (" (reservation)" if line.reservation else ""),
            f"{line.start.astimezone(local):%a %H:%M}-{line.end.astimezone(local):%H:%M}",
            f"#{line.element}",
            line.why,
            f"{line.quantity:.4f} {units[line.dimension.value]}",
            f"{line.billed:.4f}",
            f"{line.component.price} (step {line.component.step_size}, "
            + (f"VAT {line.component.vat}%)" if line.component.vat is not None else "no VAT)"),
            f"{line.cost.excl_vat:.4f}",
            f"{line.cost.incl_vat:.4f}" if line.cost.incl_vat is not None else "-",
        ]
        for line in result.lines
    ]
    columns = [
        "dimension",
        f"when ({zone})",
        "element",
        "why",
        "measured",
        "billed",
        "price",
        "excl VAT",
        "incl VAT",
    ]
    print_table(f"Tariff {tariff.id} ({result.currency})", columns, rows)
    totals = {
        "total_cost": result.total_cost,
        "total_energy_cost": result.total_energy_cost,
        "total_time_cost": result.total_time_cost,
        "total_parking_cost": result.total_parking_cost,
        "total_fixed_cost": result.total_fixed_cost,
        "total_reservation_cost": result.total_reservation_cost,
    }
    record = {k: f"{v.excl_vat} / {v.incl_vat}" for k, v in totals.items() if v is not None}
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
    print_record("Totals (excl. VAT / incl. VAT)", record)
