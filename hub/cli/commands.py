"""``hub commands``: the commands eMSPs sent (START_SESSION, STOP_SESSION, RESERVE_NOW,
CANCEL_RESERVATION, UNLOCK_CONNECTOR): the answer each got, its state, the OCPP exchange with
the charger and whether the result reached the eMSP.

Operator-only: an eMSP hears about its own commands through OCPI (``response_url``).
"""

from __future__ import annotations

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
from hub.cli.sessions import LIMIT_OPTION, PARTNER_OPTION, SINCE_OPTION, STATION_OPTION, iso, moment

if TYPE_CHECKING:
    from hub.persistence.tables import Command

app = typer.Typer(
    help="Commands from eMSPs: their state, the OCPP exchange, the result sent.",
    no_args_is_help=True,
)

KIND_OPTION = typer.Option(
    None, "--kind", help="Only this command (START_SESSION, STOP_SESSION, ...)"
)


def command_record(row: Command, partner_name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "partner": partner_name,
        "received_at": iso(row.received_at),
        "response": row.response,
        "response_message": row.response_message,
        "state": row.state,
        "deadline": iso(row.deadline),
        "cpo": f"{row.country_code}*{row.party_id}" if row.country_code else None,
        "location_id": row.location_id,
        "evse_uid": row.evse_uid,
        "connector_id": row.connector_id,
        "station": row.station_id,
        "token_uid": row.token_uid,
        "token_type": row.token_type,
        "authorization_reference": row.authorization_reference,
        "ocpp_action": row.ocpp_action,
        "ocpp_request": row.ocpp_request,
        "ocpp_answer": row.ocpp_answer,
        "called_at": iso(row.called_at),
        "answered_at": iso(row.answered_at),
        "result": row.result,
        "result_message": row.result_message,
        "finished_at": iso(row.finished_at),
        "result_sent_at": iso(row.result_sent_at),
        "response_url": row.response_url,
    }


@app.command("list")
def list_commands(
    partner: str | None = PARTNER_OPTION,
    station: str | None = STATION_OPTION,
    kind: str | None = KIND_OPTION,
    since: str | None = SINCE_OPTION,
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Commands, newest first: what each eMSP asked, the answer and the result."""
    start = moment(since)

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope
        from hub.services.commands import CommandService

        async with session_scope(context.sessions) as session:
            rows = await CommandService(session).operator_listing(
                partner=partner,
                station=station,
                kind=kind.upper() if kind else None,
                since=start,
                limit=limit,
            )
            return [command_record(row, name) for row, name in rows]

    records = run(work)
    if as_json:
        print_json(records)
        return
    columns = [
        "id",
        "kind",
        "partner",
        "received",
        "station",
        "response",
        "state",
        "result",
        "sent",
    ]
    print_table(
        "Commands",
        columns,
        [
            [
                r["id"],
                r["kind"],
                r["partner"],
                r["received_at"],
                r["station"],
                r["response"],
                r["state"],
                r["result"],
                "yes" if r["result_sent_at"] else ("-" if r["result"] is None else "not yet"),
            ]
            for r in records
        ],
    )
    if len(records) == limit:
        console.print(f"the newest {limit} are shown; --limit shows more")


@app.command("show")
def show_command(
    command_id: int = typer.Argument(..., help="The command's id (hub commands list)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """One command: the request, the answer, the OCPP exchange, the result and its delivery."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.errors import NotFound
        from hub.persistence.session import session_scope
        from hub.services.commands import CommandService

        async with session_scope(context.sessions) as session:
            found = await CommandService(session).described(command_id)
            if found is None:
                raise NotFound(f"no command {command_id}")
            row, name = found
            return {**command_record(row, name), "request": row.request}

    record = run(work)
    if as_json:
        print_json(record)
        return
    print_record(f"Command {command_id}", record)
