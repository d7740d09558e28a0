"""``hub tokens``: drivers' tokens as eMSPs pushed them, the operator's blocks, and why a card
was let charge or not (the audit trail of every authorization answered to a charger).

Operator-only: no OCPI route serves the trail or the blocks.
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
from hub.domain.access import Party, party_label, party_of
from hub.domain.tokens import TokenKey, TokenType

if TYPE_CHECKING:
    from hub.persistence.tables import AuthorizationDecisionRecord, Token

app = typer.Typer(
    help="Drivers' tokens, operator blocks and the authorization decisions about them.",
    no_args_is_help=True,
)

TYPE_OPTION = typer.Option(TokenType.RFID, "--type", help="The token's OCPI type.")
PARTY_ARGUMENT = typer.Argument(..., help="The eMSP party of the token, COUNTRY*PARTY (US*EMA)")
UID_ARGUMENT = typer.Argument(..., help="The token uid (the card's id)")


def _party(value: str) -> Party:
    try:
        return party_of(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="COUNTRY*PARTY") from exc


def _key(party: str, uid: str, token_type: TokenType) -> TokenKey:
    country_code, party_id = _party(party)
    return TokenKey(country_code, party_id, uid, token_type)


def token_record(token: Token, partner_name: str) -> dict[str, Any]:
    return {
        "party": party_label((token.country_code, token.party_id)),
        "uid": token.uid,
        "type": token.type,
        "partner": partner_name,
        "contract_id": token.contract_id,
        "visual_number": token.visual_number,
        "issuer": token.issuer,
        "group_id": token.group_id,
        "valid": token.valid,
        "whitelist": token.whitelist,
        "language": token.language,
        "last_updated": token.last_updated.isoformat(),
    }


@app.command("list")
def list_tokens(
    partner: str | None = typer.Option(None, "--partner", help="Only this partner's tokens"),
    limit: int = typer.Option(50, min=1, max=10_000, help="How many to show"),
    offset: int = typer.Option(0, min=0, help="How many to skip"),
    as_json: bool = JSON_OPTION,
) -> None:
    """List stored tokens (by party, uid and type)."""

    async def work(context: CommandContext) -> tuple[list[dict[str, Any]], int]:
        from hub.persistence.session import session_scope
        from hub.services.authorizations import TokenAdminService

        async with session_scope(context.sessions) as session:
            rows, total = await TokenAdminService(session).page(partner, limit=limit, offset=offset)
            return [token_record(token, name) for token, name in rows], total

    records, total = run(work)
    if as_json:
        print_json({"total": total, "offset": offset, "tokens": records})
        return
    columns = ["party", "uid", "type", "partner", "whitelist", "valid", "group_id"]
    print_table(
        "Tokens",
        columns,
        [[r[c] for c in columns] for r in records],
        total=total,
        more=f"--offset {offset + len(records)} shows the next {limit}",
    )


@app.command("show")
def show(
    party: str = PARTY_ARGUMENT,
    uid: str = UID_ARGUMENT,
    token_type: TokenType = TYPE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Every stored field of one token, and the operator's block if any."""
    key = _key(party, uid, token_type)

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.authorizations import TokenAdminService

        async with session_scope(context.sessions) as session:
            view = await TokenAdminService(session).show(key)
            record = token_record(view.token, view.partner_name)
            record["energy_contract"] = view.token.energy_contract
            record["default_profile_type"] = view.token.default_profile_type
            record["blocked_by_operator"] = view.block is not None
            record["block_reason"] = view.block.reason if view.block else None
            return record

    record = run(work)
    if as_json:
        print_json(record)
        return
    energy = record["energy_contract"]
    shown = {
        **record,
        "energy_contract": (
            f"{energy.get('supplier_name')} ({energy.get('contract_id') or 'no contract id'})"
            if energy
            else None
        ),
    }
    print_record(f"Token {record['party']} {record['uid']} ({record['type']})", shown)


@app.command("block")
def block(
    party: str = PARTY_ARGUMENT,
    uid: str = UID_ARGUMENT,
    token_type: TokenType = TYPE_OPTION,
    reason: str | None = typer.Option(None, "--reason", help="Why (kept with the block)"),
    remove: bool = typer.Option(False, "--remove", help="Lift the block instead"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Refuse a token (Blocked) at our chargers without asking its eMSP.

    The block is ours, kept apart from the eMSP's copy, so a new push of the token does not
    lift it; the token need not be stored."""
    key = _key(party, uid, token_type)
    if reason is not None and len(reason) > 200:
        raise typer.BadParameter("at most 200 characters", param_hint="--reason")

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.authorizations import TokenAdminService

        async with session_scope(context.sessions) as session:
            service = TokenAdminService(session)
            if remove:
                await service.unblock(key)
                return {"blocked": False, "changed": True, "reason": None}
            row, created = await service.block(key, reason)
            return {"blocked": True, "changed": created, "reason": row.reason}

    outcome = run(work)
    record = {
        "party": party_label((key.country_code, key.party_id)),
        "uid": key.uid,
        "type": key.type.value,
        **outcome,
    }
    if as_json:
        print_json(record)
        return
    if remove:
        console.print(f"Token {record['party']} {key.uid} ({key.type}) is no longer blocked.")
    elif outcome["changed"]:
        console.print(f"Token {record['party']} {key.uid} ({key.type}) is blocked at our chargers.")
    else:
        console.print(f"Token {record['party']} {key.uid} ({key.type}) was already blocked.")


def decision_record(row: AuthorizationDecisionRecord) -> dict[str, Any]:
    return {
        "decided_at": row.decided_at.isoformat(),
        "station": row.station_id,
        "action": row.ocpp_action,
        "evse_uid": row.evse_uid,
        "location_id": row.location_id,
        "presented_type": row.presented_type,
        "uid_digest": row.uid_digest,
        "party": (
            party_label((row.country_code, row.party_id))
            if row.country_code and row.party_id
            else None
        ),
        "token_type": row.token_type,
        "path": row.path,
        "auth_method": row.auth_method,
        "emsp": row.partner_name,
        "emsp_answer": row.emsp_answer,
        "emsp_latency_ms": row.emsp_latency_ms,
        "result": row.result,
        "certificate_status": row.certificate_status,
        "authorization_reference": row.authorization_reference,
        "reason": row.reason,
    }


@app.command("explain")
def explain(
    uid: str = UID_ARGUMENT,
    token_type: TokenType | None = typer.Option(
        None, "--type", help="Only decisions about this OCPI type (default: any)"
    ),
    limit: int = typer.Option(20, min=1, max=1000, help="How many decisions to show"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Why a card was (or was not) let charge: its last decisions, any party, newest first.

    The trail keeps the uid only as its digest (the one log lines show); the uid given here
    is digested in every case spelling, and an eMAID also in its normalised form."""

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope
        from hub.services.authorizations import TokenAdminService

        async with session_scope(context.sessions) as session:
            rows = await TokenAdminService(session).explain(uid, token_type, limit)
            return [decision_record(row) for row in rows]

    records = run(work)
    if as_json:
        print_json(records)
        return
    if not records:
        console.print(f"No decisions about uid digest(s) of {uid!r} are recorded.")
        return
    # One block per decision: the reasons are sentences, which a wide table would fold away.
    for number, record in enumerate(records, start=1):
        print_record(f"{number}. {record['decided_at']} at {record['station']}", record)
    console.print(f"{len(records)} decision(s), newest first")
