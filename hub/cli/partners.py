"""``hub partners``: roaming partners and their credentials."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    console,
    error_console,
    exit_with_error,
    print_json,
    print_record,
    print_table,
    run,
    warn_if_public_url_assumed,
)
from hub.domain.access import Party, party_label, party_of
from hub.domain.assets import NacsMode
from hub.domain.partners import (
    EmaidTokenType,
    HeaderTokenEncoding,
    PartnerStatus,
)
from hub.errors import InvalidState

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.persistence.tables import Partner
    from hub.roaming.handshake import CredentialsHandshake

app = typer.Typer(
    help="Roaming partners (eMSPs and hubs) and their OCPI credentials.", no_args_is_help=True
)

PARTY_OPTION = typer.Option(
    ...,
    "--party",
    help="A party the partner owns, COUNTRY*PARTY (repeat for several). Its credentials may "
    "declare roles only for these; each party belongs to one partner.",
)


def parse_parties(values: list[str]) -> list[Party]:
    try:
        return [party_of(value) for value in values]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--party") from exc


ENCODING_OPTION = typer.Option(
    HeaderTokenEncoding.AUTO,
    "--token-encoding",
    help="How the partner encodes tokens in the Authorization header.",
)


def partner_record(
    partner: Partner,
    roles: list[dict[str, Any]] | None = None,
    parties: Sequence[Party] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": partner.name,
        "status": partner.status,
        "version": partner.version,
        "versions_url": partner.versions_url,
        "token_encoding": partner.token_encoding,
        "registered_at": partner.registered_at.isoformat() if partner.registered_at else None,
        "updated_at": partner.updated_at.isoformat(),
    }
    if parties is not None:
        record["parties"] = [party_label(p) for p in parties]
    if roles is not None:
        record["roles"] = roles
        record["endpoints"] = partner.endpoints
    return record


async def _detailed(context: CommandContext, name: str) -> dict[str, Any]:
    from hub.persistence.session import session_scope
    from hub.services.partners import PartnerService
    from hub.services.tokens import TokenPullService

    async with session_scope(context.sessions) as session:
        service = PartnerService(session)
        partner = await service.get_by_name(name)
        roles = [
            {
                "role": r.role,
                "country_code": r.country_code,
                "party_id": r.party_id,
                "name": r.business_details.get("name"),
            }
            for r in await service.roles(partner)
        ]
        record = partner_record(partner, roles, await service.owned_parties(partner))
        record["emaid_prefixes"] = list(await service.emaid_prefixes(partner))
        record["emaid_token_type"] = partner.emaid_token_type
        cursor = await TokenPullService(session).cursor_of(partner.require_id())
        if cursor is not None:
            # Where the token pull stands (`hub partners sync-tokens` pulls now).
            record["token_pull_last_completed_at"] = (
                cursor.last_completed_at.isoformat() if cursor.last_completed_at else None
            )
            record["token_pull_in_progress"] = (
                f"page {cursor.run_pages + 1} next, {cursor.run_tokens} tokens so far"
                if cursor.next_url
                else None
            )
            record["token_pull_last_error"] = cursor.last_error
        clients = await _client_parties(session, partner.require_id())
        if clients:
            record["client_parties"] = clients
        return record


async def _client_parties(session: Any, partner_id: int) -> list[dict[str, Any]]:
    """What a hub partner reported about the parties behind it (OCPI Hub Client Info), with
    the pushes held for each party while it is unreachable."""
    from hub.services.hub_client_info import HubClientInfoService

    service = HubClientInfoService(session)
    held = await service.held(partner_id)
    return [
        {
            "country_code": r.country_code,
            "party_id": r.party_id,
            "role": r.role,
            "status": r.status.value,
            "last_updated": r.last_updated.isoformat(),
            "held_pushes": held.get(f"{r.country_code}*{r.party_id}", 0),
        }
        for r in await service.reports(partner_id)
    ]


def _show(record: dict[str, Any], title: str, as_json: bool) -> None:
    if as_json:
        print_json(record)
        return
    summary = {k: v for k, v in record.items() if k not in {"roles", "endpoints", "client_parties"}}
    print_record(title, summary)
    if record.get("roles"):
        columns = ["role", "country_code", "party_id", "name"]
        print_table("Roles", columns, [[r[c] for c in columns] for r in record["roles"]])
    if record.get("endpoints"):
        columns = ["identifier", "role", "url"]
        print_table("Endpoints", columns, [[e[c] for c in columns] for e in record["endpoints"]])
    if record.get("client_parties"):
        columns = ["country_code", "party_id", "role", "status", "last_updated", "held_pushes"]
        print_table(
            "Client parties (reported by the hub)",
            columns,
            [[c[k] for k in columns] for c in record["client_parties"]],
        )


def _handshake(context: CommandContext) -> CredentialsHandshake:
    from hub.roaming.handshake import CredentialsHandshake

    return CredentialsHandshake(context.sessions, context.http, context.settings)


@app.command("invite")
def invite(
    name: str = typer.Argument(..., help="Partner name (unique)"),
    party: list[str] = PARTY_OPTION,
    token_encoding: HeaderTokenEncoding = ENCODING_OPTION,
    reissue: bool = typer.Option(
        False,
        "--reissue",
        help="Issue a new token to a partner invited before; the earlier token stops working.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue a registration token (OCPI token A) for a partner that will register with us."""
    parties = parse_parties(party)

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.partners import AlreadyInvited, PartnerService

        async with session_scope(context.sessions) as session:
            service = PartnerService(session)
            revoked = await service.pending_invitation(name)
            try:
                partner, token = await service.invite(
                    name, parties=parties, token_encoding=token_encoding, reissue=reissue
                )
            except AlreadyInvited as exc:
                exit_with_error(
                    f"{exc}; `hub partners invite {name} --reissue` revokes it and issues a new one"
                )
            record: dict[str, Any] = {
                "name": partner.name,
                "status": partner.status,
                "parties": [party_label(p) for p in sorted(parties)],
                "token_a": token,
                "versions_url": context.settings.versions_url,
            }
            if revoked is not None:
                record["revoked_token_issued_at"] = revoked.isoformat()
        warn_if_public_url_assumed(context.settings)
        return record

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"Invited {name}", record)
        console.print("Give the token and the versions URL to the partner over a secure channel.")


@app.command("register")
def register(
    versions_url: str = typer.Argument(..., help="The partner's OCPI versions endpoint"),
    token_a: str = typer.Argument(..., help="The registration token the partner gave us"),
    party: list[str] = PARTY_OPTION,
    name: str | None = typer.Option(None, "--name", help="Partner name (default: URL host)"),
    token_encoding: HeaderTokenEncoding = ENCODING_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register with a partner: fetch its endpoints, POST our credentials, store its token."""
    partner_name = name or urlsplit(versions_url).netloc or versions_url
    parties = parse_parties(party)

    async def work(context: CommandContext) -> dict[str, Any]:
        warn_if_public_url_assumed(context.settings)  # our versions URL goes to the partner
        handshake = _handshake(context)
        await handshake.register_with(
            partner_name, versions_url, token_a, parties=parties, token_encoding=token_encoding
        )
        return await _detailed(context, partner_name)

    _show(run(work), f"Registered with {partner_name}", as_json)


@app.command("list")
def list_partners(as_json: bool = JSON_OPTION) -> None:
    """List partners and their status."""

    async def work(context: CommandContext) -> list[dict[str, Any]]:
        from hub.persistence.session import session_scope
        from hub.services.partners import PartnerService

        async with session_scope(context.sessions) as session:
            return [partner_record(p) for p in await PartnerService(session).list()]

    records = run(work)
    if as_json:
        print_json(records)
    else:
        columns = ["name", "status", "version", "versions_url", "registered_at"]
        print_table("Partners", columns, [[r[c] for c in columns] for r in records])


@app.command("show")
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """Show one partner with its roles and endpoints."""

    async def work(context: CommandContext) -> dict[str, Any]:
        return await _detailed(context, name)

    _show(run(work), f"Partner {name}", as_json)


@app.command("rotate")
def rotate(name: str, as_json: bool = JSON_OPTION) -> None:
    """Renew the credentials tokens of both sides (credentials PUT to the partner)."""

    async def work(context: CommandContext) -> dict[str, Any]:
        warn_if_public_url_assumed(context.settings)  # our versions URL goes to the partner
        handshake = _handshake(context)
        await handshake.rotate(name)
        return await _detailed(context, name)

    _show(run(work), f"Rotated tokens with {name}", as_json)


@app.command("suspend")
def suspend(name: str, as_json: bool = JSON_OPTION) -> None:
    """Pause a partner: its functional-module calls get 401 and nothing is pushed to it."""
    _transition(name, as_json, "suspend")


@app.command("resume")
def resume(name: str, as_json: bool = JSON_OPTION) -> None:
    """Undo suspend."""
    _transition(name, as_json, "resume")


def _transition(name: str, as_json: bool, action: str) -> None:
    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.partners import PartnerService

        async with session_scope(context.sessions) as session:
            service = PartnerService(session)
            partner = await service.get_by_name(name)
            change = service.suspend if action == "suspend" else service.resume
            record = partner_record(await change(partner.require_id()))
            if action == "resume":
                # Nothing was pushed while suspended: bring the partner up to date.
                record["queued"] = await _resync_if_pushable(session, partner)
            return record

    _show(run(work), f"Partner {name}", as_json)


@app.command("remove")
def remove(
    name: str,
    force: bool = typer.Option(
        False, "--force", help="Revoke locally even if the partner cannot be told"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Unregister: DELETE our credentials at the partner and revoke its token here."""

    async def work(context: CommandContext) -> dict[str, Any]:
        handshake = _handshake(context)
        return partner_record(await handshake.unregister_from(name, force=force))

    _show(run(work), f"Removed {name}", as_json)


@app.command("sync")
def sync(name: str, as_json: bool = JSON_OPTION) -> None:
    """Full resynchronisation: PUT every location and tariff to the partner again."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.partners import PartnerService
        from hub.services.sync import SyncService

        async with session_scope(context.sessions) as session:
            partner = await PartnerService(session).get_by_name(name)
            queued = await SyncService(session).resync(partner.require_id())
        return {"name": name, "queued": queued}

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"Resynchronising {name}", record)


@app.command("sync-tokens")
def sync_tokens(
    name: str,
    full: bool = typer.Option(
        False,
        "--full",
        help="Pull the whole list from the start, even if an interrupted run could resume.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Pull the partner's tokens (its Tokens Sender list, page by page): an interrupted run
    resumes where it stopped, else a delta since the last completed run (the whole list the
    first time). A progress line per page; --json prints them on stderr and a summary."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.roaming.token_pull import PullProgress, TokenPuller
        from hub.services.partners import PartnerService

        async with session_scope(context.sessions) as session:
            partner = await PartnerService(session).get_by_name(name)
        out = error_console if as_json else console

        def progress(step: PullProgress) -> None:
            total = f" of {step.total}" if step.total is not None else ""
            refused = f", {step.refused} refused" if step.refused else ""
            out.print(
                f"{step.partner}: page {step.pages}, {step.tokens} tokens so far{total}{refused}",
                highlight=False,
            )

        puller = TokenPuller(context.sessions, context.http, context.settings.token_pull)
        report = await puller.pull(partner.require_id(), full=full, on_page=progress)
        return report.as_dict()

    record = run(work)
    if as_json:
        print_json(record)
    else:
        summary = {k: v for k, v in record.items() if k != "refused_sample"}
        print_record(f"Tokens of {name}", summary)
        for problem in record["refused_sample"]:
            console.print(f"refused: {problem}", highlight=False)


@app.command("nacs")
def nacs(
    name: str,
    mode: NacsMode = typer.Argument(..., help="omit: leave NACS connectors out; SAE_J3400: send"),
    as_json: bool = JSON_OPTION,
) -> None:
    """How NACS connectors are sent to this partner (OCPI 2.2.1 has no NACS type)."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.partners import PartnerService

        async with session_scope(context.sessions) as session:
            service = PartnerService(session)
            partner = await service.get_by_name(name)
            partner.nacs_mode = mode.value
            partner.touch()
            queued = await _resync_if_pushable(session, partner)
        return {"name": name, "nacs_mode": mode.value, "queued": queued}

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"Partner {name}", record)


@app.command("emaid-prefix")
def emaid_prefix_command(
    name: str,
    prefix: str = typer.Argument(..., help="eMAID provider prefix, e.g. US-ABC"),
    remove: bool = typer.Option(False, "--remove", help="Remove the route instead"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Route Plug & Charge contracts (eMAIDs) starting with PREFIX to this partner.

    Without a route, an eMAID whose country code and provider id equal one of the partner's
    parties goes to it; eMI3 provider ids need not match OCPI parties, hence this table. A
    prefix routes to one partner only.
    """

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.partners import PartnerService

        async with session_scope(context.sessions) as session:
            service = PartnerService(session)
            partner = await service.get_by_name(name)
            change = service.unroute_emaid_prefix if remove else service.route_emaid_prefix
            await change(partner, prefix)
            routed = await service.emaid_prefixes(partner)
        return {"name": name, "emaid_prefixes": list(routed)}

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(
            f"Partner {name}", {**record, "emaid_prefixes": ", ".join(record["emaid_prefixes"])}
        )


@app.command("emaid-type")
def emaid_type(
    name: str,
    token_type: EmaidTokenType = typer.Argument(
        ..., help="OTHER (default; 2.2.1 has no EMAID type) or RFID, as agreed with the partner"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """The OCPI token type this partner's eMAIDs are authorized as."""

    async def work(context: CommandContext) -> dict[str, Any]:
        from hub.persistence.session import session_scope
        from hub.services.partners import PartnerService

        async with session_scope(context.sessions) as session:
            partner = await PartnerService(session).get_by_name(name)
            partner.emaid_token_type = token_type.value
            partner.touch()
        return {"name": name, "emaid_token_type": token_type.value}

    record = run(work)
    if as_json:
        print_json(record)
    else:
        print_record(f"Partner {name}", record)


async def _resync_if_pushable(session: AsyncSession, partner: Partner) -> int:
    from hub.services.sync import SyncService

    if partner.partner_status is not PartnerStatus.REGISTERED:
        return 0
    try:
        return await SyncService(session).resync(partner.require_id())
    except InvalidState:
        return 0  # no Locations/Tariffs receiver endpoint
