"""SQL of authorizing id tokens at chargers: the tokens a presented id matches, where a station's
EVSEs are, recent eMSP commands for a token, operator blocks and the decision trail."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.tokens import TokenKey, TokenType
from hub.persistence.tables import (
    AuthorizationDecisionRecord,
    Evse,
    Location,
    OperatorTokenBlock,
    Partner,
    RemoteAuthorization,
    Token,
)


def uid_spellings(uid: str) -> list[str]:
    """The spellings of a uid looked up: OCPI uids are case-insensitive (CiString), chargers
    report hex card ids in either case; exact matches keep the uid index usable."""
    return sorted({uid, uid.upper(), uid.lower()})


@dataclass(frozen=True, slots=True)
class EvsePlace:
    """An EVSE a station serves, with the OCPP address it has there."""

    evse_uid: str
    location_id: str
    ocpp_evse_id: int | None
    ocpp_connector_id: int | None


class AuthorizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tokens_with_uid(self, uid: str, token_type: TokenType) -> Sequence[Token]:
        """Stored tokens of any party with this uid and type (oldest row first)."""
        result = await self.session.execute(
            select(Token)
            .where(col(Token.uid).in_(uid_spellings(uid)), col(Token.type) == token_type.value)
            .order_by(col(Token.id))
        )
        return result.scalars().all()

    async def tokens_with_contract_id(
        self, contract_ids: Iterable[str], parties: Iterable[tuple[str, str]]
    ) -> Sequence[Token]:
        """Stored tokens of ``parties`` whose ``contract_id`` is one of ``contract_ids``."""
        wanted = set(parties)
        if not wanted:
            return []
        result = await self.session.execute(
            select(Token)
            .where(col(Token.contract_id).in_(sorted(set(contract_ids))))
            .order_by(col(Token.id))
        )
        return [t for t in result.scalars() if (t.country_code, t.party_id) in wanted]

    async def evses_of_station(self, station_id: str) -> list[EvsePlace]:
        result = await self.session.execute(
            select(Evse.uid, Location.location_id, Evse.ocpp_evse_id, Evse.ocpp_connector_id)
            .join(Location, col(Location.id) == col(Evse.location_ref))
            .where(col(Evse.charging_station_id) == station_id)
            .order_by(col(Evse.ocpp_evse_id), col(Evse.ocpp_connector_id), col(Evse.id))
        )
        return [EvsePlace(*row) for row in result.all()]

    async def add_remote_authorization(self, row: RemoteAuthorization) -> RemoteAuthorization:
        self.session.add(row)
        await self.session.flush()
        return row

    async def remote_authorization_since(
        self,
        uid: str,
        *,
        since: datetime,
        until: datetime,
        evse_uids: Sequence[str],
        location_id: str | None,
    ) -> RemoteAuthorization | None:
        """The latest command for ``uid`` received in [since, until] for one of ``evse_uids``,
        or for no EVSE in particular at ``location_id``."""
        places: list[ColumnElement[bool]] = []
        if evse_uids:
            places.append(col(RemoteAuthorization.evse_uid).in_(list(evse_uids)))
        if location_id is not None:
            places.append(
                col(RemoteAuthorization.evse_uid).is_(None)
                & (col(RemoteAuthorization.location_id) == location_id)
            )
        if not places:
            return None
        result = await self.session.execute(
            select(RemoteAuthorization)
            .where(
                col(RemoteAuthorization.uid) == uid.upper(),
                col(RemoteAuthorization.received_at) >= since,
                col(RemoteAuthorization.received_at) <= until,
                or_(*places),
            )
            .order_by(col(RemoteAuthorization.received_at).desc())
            .limit(1)
        )
        return result.scalars().first()

    async def block(self, key: TokenKey) -> OperatorTokenBlock | None:
        result = await self.session.execute(
            select(OperatorTokenBlock).where(
                col(OperatorTokenBlock.country_code) == key.country_code,
                col(OperatorTokenBlock.party_id) == key.party_id,
                col(OperatorTokenBlock.uid).in_(uid_spellings(key.uid)),
                col(OperatorTokenBlock.type) == key.type.value,
            )
        )
        return result.scalars().first()

    async def add_block(self, row: OperatorTokenBlock) -> OperatorTokenBlock:
        self.session.add(row)
        await self.session.flush()
        return row

    async def delete_block(self, row: OperatorTokenBlock) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def add_decision(self, row: AuthorizationDecisionRecord) -> None:
        self.session.add(row)
        await self.session.flush()

    async def decisions_by_digest(
        self, digests: Iterable[str], token_type: TokenType | None, limit: int
    ) -> Sequence[AuthorizationDecisionRecord]:
        """The latest decisions about any of the uid ``digests``, newest first."""
        statement = select(AuthorizationDecisionRecord).where(
            col(AuthorizationDecisionRecord.uid_digest).in_(sorted(set(digests)))
        )
        if token_type is not None:
            statement = statement.where(
                col(AuthorizationDecisionRecord.token_type) == token_type.value
            )
        result = await self.session.execute(
            statement.order_by(col(AuthorizationDecisionRecord.id).desc()).limit(limit)
        )
        return result.scalars().all()

    async def token_page(
        self, partner_id: int | None, *, limit: int, offset: int
    ) -> tuple[Sequence[tuple[Token, str]], int]:
        """A page of stored tokens with their partner's name (by party, uid, type), and how
        many there are in all."""
        condition = [] if partner_id is None else [col(Token.partner_id) == partner_id]
        total = (
            await self.session.execute(select(func.count()).select_from(Token).where(*condition))
        ).scalar_one()
        result = await self.session.execute(
            select(Token, Partner.name)
            .join(Partner, col(Partner.id) == col(Token.partner_id))
            .where(*condition)
            .order_by(col(Token.country_code), col(Token.party_id), col(Token.uid), col(Token.type))
            .limit(limit)
            .offset(offset)
        )
        return [(token, name) for token, name in result.all()], int(total)

    async def token(self, key: TokenKey) -> Token | None:
        result = await self.session.execute(
            select(Token).where(
                col(Token.country_code) == key.country_code,
                col(Token.party_id) == key.party_id,
                col(Token.uid).in_(uid_spellings(key.uid)),
                col(Token.type) == key.type.value,
            )
        )
        return result.scalars().first()
