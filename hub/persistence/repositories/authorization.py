"""SQL of authorizing id tokens at chargers: the tokens a presented id matches, where a station's
EVSEs are, recent eMSP commands for a token, operator blocks and the decision trail."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, exists, func, insert, literal, or_
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.tokens import TokenKey, TokenType
from hub.persistence.session import HotReads
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
class TokenFacts:
    """A stored token with the uid and type presented, and whether the operator blocks it."""

    id: int
    partner_id: int
    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    group_id: str | None
    valid: bool
    whitelist: str
    language: str | None
    last_updated: datetime
    blocked: bool


@dataclass(frozen=True, slots=True)
class PresentedFacts:
    """What one statement reads about a presented uid (see ``presented_facts``)."""

    tokens: list[TokenFacts]
    recent_remote_authorization: bool


def _closed_spellings(uid: str) -> list[str]:
    """Every spelling that ``uid_spellings`` of any of the uid's spellings names: the block of a
    stored token is looked up by the stored uid's spellings, and the stored uid is one of the
    presented uid's (for ASCII uids, which OCPI CiStrings are, the two sets are equal; SQL
    ``upper``/``lower`` of SQLite change ASCII letters only)."""
    return sorted({s for spelling in uid_spellings(uid) for s in uid_spellings(spelling)})


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
        places = _remote_places(
            RemoteAuthorization.__table__.c,  # type: ignore[attr-defined]
            evse_uids,
            location_id,
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

    async def add_decisions(self, rows: Sequence[dict[str, object]]) -> None:
        """Insert decision rows (column values; no ORM objects) in one executemany."""
        await self.session.execute(insert(AuthorizationDecisionRecord.__table__), list(rows))  # type: ignore[attr-defined]

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


def _remote_places(
    remote: Any, evse_uids: Sequence[str], location_id: str | None
) -> list[ColumnElement[bool]]:
    """Where a remote authorization counts: one of ``evse_uids``, or no EVSE at the location."""
    places: list[ColumnElement[bool]] = []
    if evse_uids:
        places.append(remote.evse_uid.in_(list(evse_uids)))
    if location_id is not None:
        places.append(remote.evse_uid.is_(None) & (remote.location_id == location_id))
    return places


async def presented_facts(
    reads: HotReads,
    uid: str,
    token_type: TokenType,
    *,
    since: datetime,
    until: datetime,
    evse_uids: Sequence[str],
    location_id: str | None,
) -> PresentedFacts:
    """In one statement (the hot path of local decisions; Core, no ORM objects, through
    :class:`~hub.persistence.session.HotReads`): the stored tokens of any party with this uid
    and type (oldest row first), each with whether the operator blocks it (``block``), and
    whether a command for ``uid`` was received in [since, until] for one of ``evse_uids`` or for
    no EVSE at ``location_id`` (``remote_authorization_since``). The tokens are LEFT JOINed to a
    one-row select so the last answer comes back when no token is stored."""
    statement, parameters = _presented_query(
        uid, token_type, since=since, until=until, evse_uids=evse_uids, location_id=location_id
    )
    return _presented_facts(await reads.all(statement, parameters))


def _presented_query(
    uid: str,
    token_type: TokenType,
    *,
    since: datetime,
    until: datetime,
    evse_uids: Sequence[str],
    location_id: str | None,
) -> tuple[Select[Any], dict[str, Any]]:
    parameters: dict[str, Any] = {
        "spellings": uid_spellings(uid),
        "block_spellings": _closed_spellings(uid),
        "token_type": token_type.value,
        "remote_uid": uid.upper(),
        "since": since,
        "until": until,
    }
    if evse_uids:
        parameters["evse_uids"] = list(evse_uids)
    if location_id is not None:
        parameters["location_id"] = location_id
    return _presented_statement(bool(evse_uids), location_id is not None), parameters


def _presented_facts(rows: Sequence[Row[Any]]) -> PresentedFacts:
    found = [
        TokenFacts(
            id=row.id,
            partner_id=row.partner_id,
            country_code=row.country_code,
            party_id=row.party_id,
            uid=row.uid,
            type=row.type,
            contract_id=row.contract_id,
            group_id=row.group_id,
            valid=row.valid,
            whitelist=row.whitelist,
            language=row.language,
            last_updated=row.last_updated,
            blocked=bool(row.blocked),
        )
        for row in rows
        if row.id is not None
    ]
    return PresentedFacts(found, bool(rows[0].recent))


@functools.cache
def _presented_statement(at_evses: bool, at_location: bool) -> Select[Any]:
    """The statement of ``presented_facts``, built once per shape with bound parameters (built
    per call, the expression building cost more than the query)."""
    tokens = Token.__table__.c  # type: ignore[attr-defined]
    blocks = OperatorTokenBlock.__table__.c  # type: ignore[attr-defined]
    remote = RemoteAuthorization.__table__.c  # type: ignore[attr-defined]
    blocked = exists().where(
        blocks.country_code == tokens.country_code,
        blocks.party_id == tokens.party_id,
        blocks.type == tokens.type,
        blocks.uid.in_(bindparam("block_spellings", expanding=True)),
        # uid_spellings of the stored uid, as ``block`` looks it up; the IN above lets the uid
        # index find the candidates.
        or_(
            blocks.uid == tokens.uid,
            blocks.uid == func.upper(tokens.uid),
            blocks.uid == func.lower(tokens.uid),
        ),
    )
    places: list[ColumnElement[bool]] = []
    if at_evses:
        places.append(remote.evse_uid.in_(bindparam("evse_uids", expanding=True)))
    if at_location:
        places.append(remote.evse_uid.is_(None) & (remote.location_id == bindparam("location_id")))
    recent: ColumnElement[bool] = (
        exists().where(
            remote.uid == bindparam("remote_uid"),
            remote.received_at >= bindparam("since"),
            remote.received_at <= bindparam("until"),
            or_(*places),
        )
        if places
        else literal(False)
    )
    one = core_select(literal(1).label("one")).subquery("one")
    return (
        core_select(
            recent.label("recent"),
            tokens.id,
            tokens.partner_id,
            tokens.country_code,
            tokens.party_id,
            tokens.uid,
            tokens.type,
            tokens.contract_id,
            tokens.group_id,
            tokens.valid,
            tokens.whitelist,
            tokens.language,
            tokens.last_updated,
            blocked.label("blocked"),
        )
        .select_from(
            one.outerjoin(
                Token.__table__,  # type: ignore[attr-defined]
                tokens.uid.in_(bindparam("spellings", expanding=True))
                & (tokens.type == bindparam("token_type")),
            )
        )
        .order_by(tokens.id)
    )
