"""``hub parties``: the CPO parties this platform operates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from hub.cli.common import JSON_OPTION, CommandContext, print_json, print_record, print_table, run

if TYPE_CHECKING:
    from hub.persistence.tables import Party

app = typer.Typer(
    help="Our CPO parties (listed in our OCPI credentials roles).", no_args_is_help=True
)


def party_record(party: Party) -> dict[str, Any]:
    return {
        "role": party.role,
        "country_code": party.country_code,
        "party_id": party.party_id,
        "name": party.name,
        "website": party.website,
    }


@app.command("add")
def add(
    country_code: str = typer.Argument(..., help="ISO 3166-1 alpha-2 country code, e.g. US"),
    party_id: str = typer.Argument(..., help="3-character party id, e.g. HPC"),
    name: str = typer.Option(..., "--name", help="Business name shown to partners"),
    website: str | None = typer.Option(None, "--website", help="Business website URL"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a CPO party."""
    from hub.persistence.session import session_scope
    from hub.services.parties import PartyService

    if len(country_code) != 2 or not country_code.isalpha():
        raise typer.BadParameter("must be 2 letters", param_hint="COUNTRY_CODE")
    if len(party_id) != 3 or not party_id.isalnum():
        raise typer.BadParameter("must be 3 letters or digits", param_hint="PARTY_ID")

    async def work(context: CommandContext) -> Party:
        async with session_scope(context.sessions) as session:
            return await PartyService(session).add(
                country_code=country_code, party_id=party_id, name=name, website=website
            )

    party = run(work)
    if as_json:
        print_json(party_record(party))
    else:
        print_record(f"Added party {party.country_code}*{party.party_id}", party_record(party))


@app.command("list")
def list_parties(as_json: bool = JSON_OPTION) -> None:
    """List our CPO parties."""
    from hub.persistence.session import session_scope
    from hub.services.parties import PartyService

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        async with session_scope(context.sessions) as session:
            return [party_record(p) for p in await PartyService(session).list()]

    records = run(work)
    if as_json:
        print_json(records)
    else:
        columns = ["role", "country_code", "party_id", "name", "website"]
        print_table("Parties", columns, [[r[c] for c in columns] for r in records])
