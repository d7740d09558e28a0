"""``hub tariffs``: tariffs of our parties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hub.cli.common import JSON_OPTION, CommandContext, print_json, print_record, print_table, run
from hub.cli.locations import print_report, run_parse
from hub.domain.assets import ImportReport
from hub.persistence.session import session_scope
from hub.roaming.importer import read_tariffs
from hub.services.tariffs import TariffService

app = typer.Typer(help="Tariffs of our parties.", no_args_is_help=True)


@app.command("import")
def import_tariffs(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="OCPI JSON list of Tariffs"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or update tariffs from OCPI JSON; unchanged ones are left alone."""
    specs = run_parse(lambda: read_tariffs(file))

    async def work(context: CommandContext) -> ImportReport:
        async with session_scope(context.sessions) as session:
            return await TariffService(session).import_tariffs(specs)

    print_report(f"Imported {file.name}", run(work), as_json)


@app.command("list")
def list_tariffs(as_json: bool = JSON_OPTION) -> None:
    """List tariffs."""

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
    country_code, _, party_id = party.partition("*")

    async def work(context: CommandContext) -> None:
        async with session_scope(context.sessions) as session:
            await TariffService(session).delete(country_code, party_id, tariff_id)

    run(work)
    print_record("Deleted", {"party": party.upper(), "id": tariff_id})
