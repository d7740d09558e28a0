"""Tokens of eMSP parties: what partners push (Receiver PUT/PATCH) and what we pull from them.

A partner may read and write only tokens of the parties it owns (``hub.domain.access``); the
scope comes from :meth:`AccessRepository.scope_of`, never from what a request declares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import PartyScope, party_label
from hub.domain.partners import PartnerStatus
from hub.domain.tokens import (
    REQUIRED_TOKEN_FIELDS,
    TOKEN_FIELDS,
    PullCursorState,
    TokenKey,
    TokenRecord,
    pull_due,
)
from hub.errors import Conflict, Forbidden, InvalidState, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.access import AccessRepository
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.repositories.tokens import TokenPullCursorRepository, TokenRepository
from hub.persistence.tables import Partner, Token, TokenPullCursor


def token_columns(record: TokenRecord) -> dict[str, Any]:
    """The table columns of a token (its key included)."""
    energy = record.energy_contract
    return {
        "country_code": record.key.country_code,
        "party_id": record.key.party_id,
        "uid": record.key.uid,
        "type": record.key.type.value,
        "contract_id": record.contract_id,
        "visual_number": record.visual_number,
        "issuer": record.issuer,
        "group_id": record.group_id,
        "valid": record.valid,
        "whitelist": record.whitelist.value,
        "language": record.language,
        "default_profile_type": (
            record.default_profile_type.value if record.default_profile_type else None
        ),
        "energy_contract": (
            {"supplier_name": energy.supplier_name, "contract_id": energy.contract_id}
            if energy is not None
            else None
        ),
        "last_updated": record.last_updated,
    }


@dataclass
class PulledBatch:
    """What became of one page of pulled tokens: ``stored`` counts the tokens accepted (written,
    or left alone because we hold a more recent version)."""

    stored: int = 0
    refused: list[str] = field(default_factory=list)


class TokenService:
    """Use cases on tokens. Never commits; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.tokens = TokenRepository(session)
        self.access = AccessRepository(session)

    async def scope(self, partner_id: int) -> PartyScope:
        return await self.access.scope_of(partner_id)

    @staticmethod
    def _require_owned(scope: PartyScope, key: TokenKey) -> None:
        if not scope.owns(key.country_code, key.party_id):
            raise Forbidden(
                f"party {party_label((key.country_code, key.party_id))} is not one of the "
                "partner's parties"
            )

    async def get(self, partner_id: int, key: TokenKey) -> Token | None:
        """The token as stored, or None when it does not exist or is another partner's: the
        two cases are indistinguishable to the caller."""
        if not (await self.scope(partner_id)).owns(key.country_code, key.party_id):
            return None
        return await self.tokens.get(key)

    async def put(self, partner_id: int, record: TokenRecord) -> Token:
        """Create the token or replace it whole (a Receiver PUT); ``valid=false`` invalidates.

        Raises:
            Forbidden: the token's party is not one the partner owns; nothing is stored.
        """
        self._require_owned(await self.scope(partner_id), record.key)
        columns = token_columns(record)
        row = await self.tokens.get(record.key)
        if row is None:
            return await self.tokens.add(Token(partner_id=partner_id, **columns))
        for name in TOKEN_FIELDS:
            setattr(row, name, columns[name])
        row.partner_id = partner_id
        row.touch()
        await self.tokens.session.flush()
        return row

    async def patch(self, partner_id: int, key: TokenKey, changes: Mapping[str, Any]) -> Token:
        """Change some fields of a stored token (a Receiver PATCH; ``changes`` are table
        columns among ``TOKEN_FIELDS``, ``last_updated`` always among them).

        Raises:
            Forbidden: the party is not one the partner owns.
            NotFound: no such token (a PATCH cannot create one).
            ValueError: a change clears a required field or names an unknown one.
        """
        self._require_owned(await self.scope(partner_id), key)
        unknown = set(changes) - set(TOKEN_FIELDS)
        if unknown:
            raise ValueError(f"not token fields: {sorted(unknown)}")
        cleared = sorted(n for n in REQUIRED_TOKEN_FIELDS if n in changes and changes[n] is None)
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        row = await self.tokens.get(key)
        if row is None:
            raise NotFound(f"no token {key.uid!r} of type {key.type.value}")
        for name, value in changes.items():
            setattr(row, name, value)
        row.touch()
        await self.tokens.session.flush()
        return row

    async def store_pulled(
        self,
        partner_id: int,
        records: Sequence[TokenRecord],
        scope: PartyScope | None = None,
        *,
        now: datetime | None = None,
    ) -> PulledBatch:
        """Store a page of tokens pulled from the partner's Tokens Sender.

        A token of a party the partner does not own is refused (counted, not stored); one
        older than what we hold (a push overtook the pull) leaves ours alone.
        """
        scope = scope or await self.scope(partner_id)
        batch = PulledBatch()
        owned: dict[TokenKey, TokenRecord] = {}
        for record in records:
            if scope.owns(record.key.country_code, record.key.party_id):
                owned[record.key] = record  # the last of duplicates on one page wins
            else:
                batch.refused.append(
                    f"{party_label((record.key.country_code, record.key.party_id))} "
                    f"token {record.key.uid!r}: not one of the partner's parties"
                )
        now = now or utc_now()
        rows = [
            # A bulk statement bypasses the ORM defaults.
            {
                "partner_id": partner_id,
                **token_columns(record),
                "created_at": now,
                "updated_at": now,
                "pulled_at": now,
            }
            for record in owned.values()
        ]
        await self.tokens.upsert_newer(rows)
        batch.stored = len(rows)
        return batch

    async def invalidate_unseen(self, partner_id: int, *, since: datetime, now: datetime) -> int:
        """After a full pull that started at ``since``: the partner's tokens it did not list,
        and nobody pushed since, become invalid (``valid=false``). Returns how many."""
        return await self.tokens.invalidate_unseen(partner_id, since=since, now=now)


class TokenPullBusy(Conflict):
    """Another process is pulling this partner's tokens now."""


@dataclass(frozen=True, slots=True)
class PullPlan:
    """What a claimed pull starts from: a run to resume (``resume_url``) or a new one."""

    partner_id: int
    partner_name: str
    tokens_url: str
    token: str
    token_encoding: str
    resume_url: str | None
    run_date_from: datetime | None
    run_started_at: datetime | None
    run_pages: int
    run_tokens: int
    next_date_from: datetime | None
    """``date_from`` of a new delta run: the start of the last completed run (minus overlap
    is the caller's business); None: never completed, so the full list."""


@dataclass(frozen=True, slots=True)
class PageOutcome:
    batch: PulledBatch
    run_pages: int
    run_tokens: int
    run_refused: int
    completed: bool
    invalidated: int = 0
    """Tokens marked invalid because a completed full pull no longer lists them."""


def tokens_sender_url(partner: Partner) -> str | None:
    """The partner's Tokens Sender endpoint, if it offers one."""
    for endpoint in partner.endpoints:
        if endpoint.get("identifier") == "tokens" and endpoint.get("role") == "SENDER":
            return str(endpoint["url"])
    return None


class TokenPullService:
    """The bookkeeping of token pulls (claims, cursors). Never commits: the caller commits each
    page's tokens together with the cursor that says they are in."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.cursors = TokenPullCursorRepository(session)
        self.partners = PartnerRepository(session)
        self.tokens = TokenService(session)

    async def claim(
        self, partner_id: int, worker: str, *, now: datetime, lease: timedelta
    ) -> PullPlan:
        """Claim the partner's pull for ``worker`` and say where it stands.

        Raises:
            NotFound: no such partner.
            InvalidState: the partner is not registered, or offers no Tokens Sender.
            TokenPullBusy: another live worker holds the claim.
        """
        partner = await self.partners.get(partner_id)
        if partner is None:
            raise NotFound(f"no partner with id {partner_id}")
        if partner.partner_status is not PartnerStatus.REGISTERED or not partner.outbound_token:
            raise InvalidState(
                f"partner {partner.name!r} is {partner.status}: tokens are pulled only from "
                "registered partners"
            )
        url = tokens_sender_url(partner)
        if url is None:
            raise InvalidState(
                f"partner {partner.name!r} offers no Tokens Sender endpoint to pull from"
            )
        await self.cursors.ensure(partner_id)
        if not await self.cursors.claim(partner_id, worker, now=now, until=now + lease):
            held = await self.cursors.get(partner_id)
            holder = held.claimed_by if held else "another process"
            until = held.claimed_until.isoformat() if held and held.claimed_until else "soon"
            raise TokenPullBusy(
                f"the tokens of partner {partner.name!r} are being pulled by {holder} (claim "
                f"held until {until}); try again later"
            )
        cursor = await self._cursor(partner_id)
        return PullPlan(
            partner_id=partner_id,
            partner_name=partner.name,
            tokens_url=url,
            token=partner.outbound_token,
            token_encoding=partner.token_encoding,
            resume_url=cursor.next_url,
            run_date_from=cursor.run_date_from,
            run_started_at=cursor.run_started_at,
            run_pages=cursor.run_pages,
            run_tokens=cursor.run_tokens,
            next_date_from=cursor.completed_date_from,
        )

    async def _cursor(self, partner_id: int) -> TokenPullCursor:
        cursor = await self.cursors.get(partner_id)
        if cursor is None:
            raise NotFound(f"no token pull cursor for partner {partner_id}")
        return cursor

    async def start_run(
        self, partner_id: int, first_url: str, *, date_from: datetime | None, now: datetime
    ) -> None:
        """Begin a new run at ``first_url`` (any interrupted one is abandoned)."""
        cursor = await self._cursor(partner_id)
        cursor.next_url = first_url
        cursor.run_date_from = date_from
        cursor.run_started_at = now
        cursor.run_pages = cursor.run_tokens = cursor.run_refused = 0
        cursor.touch()
        await self.session.flush()

    async def record_page(
        self,
        partner_id: int,
        worker: str,
        records: Sequence[TokenRecord],
        *,
        invalid: int,
        next_url: str | None,
        now: datetime,
        lease: timedelta,
    ) -> PageOutcome:
        """Store one page's tokens and move the cursor past it, in the caller's transaction.

        Raises:
            TokenPullBusy: the worker lost its claim (it stalled beyond its lease and another
                took over); the caller must roll back.
        """
        cursor = await self._cursor(partner_id)
        if cursor.claimed_by != worker:
            raise TokenPullBusy(f"the token pull of partner {partner_id} was taken over")
        batch = await self.tokens.store_pulled(partner_id, records, now=now)
        cursor.next_url = next_url
        cursor.run_pages += 1
        cursor.run_tokens += batch.stored
        cursor.run_refused += len(batch.refused) + invalid
        cursor.claimed_until = now + lease
        invalidated = 0
        if next_url is None:
            if cursor.run_date_from is None and cursor.run_started_at is not None:
                # "Any older information that is not specified in the response is considered
                # as no longer valid" (mod_tokens.asciidoc, Sender GET response).
                invalidated = await self.tokens.invalidate_unseen(
                    partner_id, since=cursor.run_started_at, now=now
                )
            cursor.completed_date_from = cursor.run_started_at
            cursor.last_completed_at = now
            cursor.last_error = cursor.last_error_at = None
        cursor.touch()
        await self.session.flush()
        return PageOutcome(
            batch=batch,
            run_pages=cursor.run_pages,
            run_tokens=cursor.run_tokens,
            run_refused=cursor.run_refused,
            completed=next_url is None,
            invalidated=invalidated,
        )

    async def record_failure(self, partner_id: int, message: str, *, now: datetime) -> None:
        cursor = await self._cursor(partner_id)
        cursor.last_error = message[:500]
        cursor.last_error_at = now
        cursor.touch()
        await self.session.flush()

    async def release(self, partner_id: int, worker: str) -> None:
        await self.cursors.release(partner_id, worker)

    async def due(self, now: datetime, *, interval: timedelta, retry_after: timedelta) -> list[int]:
        """Registered partners with a Tokens Sender whose pull should run now, unclaimed."""
        cursors = await self.cursors.all()
        due: list[int] = []
        for partner in await self.partners.registered():
            if partner.id is None or tokens_sender_url(partner) is None:
                continue
            cursor = cursors.get(partner.id)
            if cursor is not None and cursor.claimed_until and cursor.claimed_until > now:
                continue
            state = (
                PullCursorState(
                    in_progress=cursor.next_url is not None,
                    last_completed_at=cursor.last_completed_at,
                    last_error_at=cursor.last_error_at,
                )
                if cursor is not None
                else None
            )
            if pull_due(state, now, interval=interval, retry_after=retry_after):
                due.append(partner.id)
        return due

    async def cursor_of(self, partner_id: int) -> TokenPullCursor | None:
        return await self.cursors.get(partner_id)
