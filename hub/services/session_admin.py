"""The operator's use cases of charging sessions and CDRs (``hub sessions``, ``hub cdrs``):
listing and inspecting them, deciding about sessions held for review, and correcting a bill.

A CDR is never changed once made (``mod_cdrs`` "Flow and Lifecycle": "Changes are simply not
allowed"). A wrong one is credited: a credit CDR with the original's content, a new id (the
original's plus ``-C``), ``credit: true``, ``credit_reference_id`` naming the original and every
cost negated; then, if asked, a corrected CDR with a new id of its own (the session's id plus
``-R1``, ``-R2``, ...), priced again from the session's data. Both go to the original's eMSP on
the session's queue, credit first. Operator-only: partners only ever receive the CDRs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.push import JobKind, session_queue
from hub.domain.sessions import SessionStatus
from hub.errors import Conflict, InvalidState, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.sessions import SessionRepository
from hub.persistence.tables import ChargeDetailRecord, ChargingSession
from hub.services.partners import PartnerService
from hub.services.push import Change
from hub.services.sessions import SessionService, TariffCodec

CREDIT_SUFFIX = "-C"
"""Appended to a credited CDR's id to make its credit CDR's (the spec's own example)."""
CORRECTION_SUFFIX = "-R"
"""A corrected CDR's id is its session's id plus this and a number: -R1, then -R2, ..."""
CREDIT_ID_LENGTH = 39
NORMAL_ID_LENGTH = 36
"""A credit CDR's id is CiString(39); "Normal (non-credit) CDRs SHALL only have an ID with a
maximum length of 36" (``mod_cdrs`` CDR object)."""
REMARK_LENGTH = 255
COST_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
"""The Price fields of a CDR; a credit CDR carries each of them negated."""
MAX_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as the operator sees it: its eMSP's name (None: no partner known) and its
    CDRs, oldest first (the CDR, then any credit and corrected ones)."""

    session: ChargingSession
    partner_name: str | None
    cdrs: list[ChargeDetailRecord]


@dataclass(frozen=True, slots=True)
class CdrView:
    """A CDR, its eMSP's name, the session it bills (None when deleted) and its credit CDR
    (None: not credited)."""

    cdr: ChargeDetailRecord
    partner_name: str | None
    session_id: str | None
    credited_by: ChargeDetailRecord | None


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    """A released session and its CDR (None: nothing billed yet, or nothing to bill)."""

    session: ChargingSession
    cdr: ChargeDetailRecord | None


@dataclass(frozen=True, slots=True)
class CreditOutcome:
    """A credited CDR, its credit CDR, the corrected CDR if asked for, and how many CDR_POST
    jobs were queued (0: the CDR has no eMSP to send them to)."""

    original: ChargeDetailRecord
    credit: ChargeDetailRecord
    corrected: ChargeDetailRecord | None
    queued: int


class SessionAdminService:
    """Operator use cases of sessions and CDRs. Never commits."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        codec: TariffCodec,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.session = session
        self.clock = clock
        self.repository = SessionRepository(session)
        self.sessions = SessionService(session, codec=codec, clock=clock)
        self.partners = PartnerService(session)

    # --- reading ------------------------------------------------------------------------------

    async def partner_names(self) -> dict[int, str]:
        """Every partner's name by id (a handful: one query for a whole listing)."""
        return {p.require_id(): p.name for p in await self.partners.list()}

    async def list_sessions(
        self,
        *,
        partner: str | None = None,
        station: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        unassigned: bool = False,
        review: bool = False,
        limit: int = 50,
    ) -> list[tuple[ChargingSession, str | None]]:
        """Sessions started in [since, until), newest first, with their eMSP's name.

        ``unassigned``: only those whose token has no known eMSP; ``review``: only those held
        for review.

        Raises:
            NotFound: no partner named ``partner``.
        """
        partner_id = await self._partner_id(partner)
        rows = await self.repository.listing(
            partner_id=partner_id,
            station_id=station,
            since=since,
            until=until,
            unassigned=unassigned,
            review=review,
            limit=limit,
        )
        names = await self.partner_names()
        return [(row, _name(names, row.partner_id)) for row in rows]

    async def show(self, reference: str) -> SessionView:
        """The session with this OCPI session id or transaction id, with its CDRs.

        Raises:
            NotFound: no session has that id.
        """
        row = await self._session(reference)
        names = await self.partner_names()
        cdrs = await self.repository.cdrs_of_session(_pk(row))
        return SessionView(row, _name(names, row.partner_id), cdrs)

    async def list_cdrs(
        self,
        *,
        partner: str | None = None,
        station: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[tuple[ChargeDetailRecord, str | None]]:
        """CDRs made in [since, until), newest first, with their eMSP's name.

        Raises:
            NotFound: no partner named ``partner``.
        """
        partner_id = await self._partner_id(partner)
        rows = await self.repository.cdr_listing(
            partner_id=partner_id, station_id=station, since=since, until=until, limit=limit
        )
        names = await self.partner_names()
        return [(row, _name(names, row.partner_id)) for row in rows]

    async def show_cdr(self, cdr_id: str) -> CdrView:
        """One CDR with its session's id and its credit CDR, if any.

        Raises:
            NotFound: no CDR has that id.
        """
        cdr = await self._cdr(cdr_id)
        row = await self.repository.get(cdr.session_ref) if cdr.session_ref is not None else None
        credited_by = await self.repository.credit_of(cdr.country_code, cdr.party_id, cdr.cdr_id)
        names = await self.partner_names()
        session_id = row.session_id if row is not None else cdr.body.get("session_id")
        return CdrView(cdr, _name(names, cdr.partner_id), session_id, credited_by)

    # --- decisions about sessions -------------------------------------------------------------

    async def release(self, reference: str, reason: str) -> ReleaseOutcome:
        """Release a session held for review: its data is trusted after all. Its totals are
        computed again and, once it is over and owes something, its CDR is made and queued
        for its eMSP (with the session itself, whose final state may have changed).

        Raises:
            NotFound: no session has that id.
            InvalidState: the session is not held for review, or it still cannot be billed
                (no tariff was locked at its start, it cannot be priced): then invalidate it.
        """
        row = await self._session(reference, for_update=True)
        if not row.held_for_review:
            raise InvalidState(f"session {row.session_id} is not held for review")
        row.held_for_review = False
        await self._refresh_totals(row)
        if row.held_for_review:  # pricing failed again
            raise InvalidState(
                f"session {row.session_id} still cannot be priced with the tariff locked at its "
                "start; invalidate it instead"
            )
        _note(row, f"released by operator: {reason}")
        await self._push_session(row)
        cdr = await self.sessions.make_cdr(row)
        if cdr is None and row.held_for_review:
            raise InvalidState(
                f"session {row.session_id} cannot be billed ({row.problems[-1]}); "
                "invalidate it instead"
            )
        return ReleaseOutcome(row, cdr)

    async def invalidate(self, reference: str, reason: str) -> ChargingSession:
        """Declare a session INVALID: it is never billed. Its eMSP gets the session again with
        that status.

        Raises:
            NotFound: no session has that id.
            InvalidState: the session is INVALID already.
            Conflict: the session has a CDR: a bill is not withdrawn, it is credited.
        """
        row = await self._session(reference, for_update=True)
        if row.status == SessionStatus.INVALID.value:
            raise InvalidState(f"session {row.session_id} is INVALID already")
        cdrs = await self.repository.cdrs_of_session(_pk(row))
        if row.cdr_made or cdrs:
            billed = cdrs[0].cdr_id if cdrs else row.session_id
            raise Conflict(
                f"session {row.session_id} has CDR {billed}; a CDR is never withdrawn: credit "
                f"it (hub cdrs credit {billed} --reason ...)"
            )
        row.status = SessionStatus.INVALID.value
        row.held_for_review = False
        _note(row, f"invalidated by operator: {reason}")
        row.last_updated = self.clock()
        await self._push_session(row)
        return row

    # --- correcting a bill --------------------------------------------------------------------

    async def credit(self, cdr_id: str, reason: str, *, corrected: bool = False) -> CreditOutcome:
        """Credit a CDR (see the module docstring); with ``corrected``, also bill the session
        again from its current data, as a new CDR queued after the credit. The original is
        never modified.

        Raises:
            NotFound: no CDR has that id.
            InvalidState: the CDR is a credit CDR itself, its credit's id would be too long,
                or (``corrected``) its session is gone, not COMPLETED, held for review or
                cannot be priced.
            Conflict: the CDR is credited already.
        """
        original = await self._cdr(cdr_id)
        if original.credit:
            raise InvalidState(
                f"CDR {original.cdr_id} is a credit CDR (of {original.credit_reference_id}); "
                "a credit is not credited"
            )
        existing = await self.repository.credit_of(
            original.country_code, original.party_id, original.cdr_id
        )
        if existing is not None:
            raise Conflict(f"CDR {original.cdr_id} is credited already, by {existing.cdr_id}")
        credit_id = original.cdr_id + CREDIT_SUFFIX
        if len(credit_id) > CREDIT_ID_LENGTH:
            raise InvalidState(
                f"CDR {original.cdr_id} cannot be credited: its credit's id {credit_id} would be "
                f"longer than {CREDIT_ID_LENGTH} characters"
            )
        row = (
            await self.repository.get(original.session_ref)
            if original.session_ref is not None
            else None
        )
        if row is not None and corrected:
            await self.session.refresh(row, with_for_update=True)  # one correction at a time
        replacement = await self._corrected_body(row, original) if corrected else None
        if row is not None and replacement is not None:
            await self._push_session(row)  # its totals as the corrected CDR bills them

        now = self.clock()
        credit = await self._add_credit(
            ChargeDetailRecord(
                country_code=original.country_code,
                party_id=original.party_id,
                cdr_id=credit_id,
                session_ref=original.session_ref,
                token_country_code=original.token_country_code,
                token_party_id=original.token_party_id,
                partner_id=original.partner_id,
                body=credit_body(original.body, credit_id, reason, now),
                total_cost_excl_vat=-original.total_cost_excl_vat,
                total_energy=original.total_energy,
                credit=True,
                credit_reference_id=original.cdr_id,
                created_at=now,
                last_updated=now,
            ),
        )
        session_id = row.session_id if row is not None else _session_id_of(original)
        queued = await self._queue_cdr(credit, session_id)
        corrected_cdr = None
        if row is not None and replacement is not None:
            corrected_cdr = await self.repository.add_cdr(
                ChargeDetailRecord(
                    country_code=row.country_code,
                    party_id=row.party_id,
                    cdr_id=str(replacement["id"]),
                    session_ref=row.id,
                    token_country_code=row.token_country_code or row.country_code,
                    token_party_id=row.token_party_id or row.party_id,
                    partner_id=row.partner_id,
                    body=replacement,
                    total_cost_excl_vat=Decimal(str(replacement["total_cost"]["excl_vat"])),
                    total_energy=Decimal(str(replacement["total_energy"])),
                    created_at=now,
                    last_updated=now,
                )
            )
            queued += await self._queue_cdr(corrected_cdr, row.session_id)
        return CreditOutcome(original, credit, corrected_cdr, queued)

    async def _corrected_body(
        self, row: ChargingSession | None, original: ChargeDetailRecord
    ) -> dict[str, Any]:
        """The session billed again from its current data, under the next correction id."""
        if row is None:
            raise InvalidState(
                f"CDR {original.cdr_id} cannot be corrected: its session is no longer stored"
            )
        if row.status != SessionStatus.COMPLETED.value or row.end_date_time is None:
            raise InvalidState(
                f"CDR {original.cdr_id} cannot be corrected: session {row.session_id} is "
                f"{row.status}, not COMPLETED"
            )
        if row.held_for_review:
            raise InvalidState(
                f"CDR {original.cdr_id} cannot be corrected: session {row.session_id} is held "
                "for review (release it first, or credit without a correction)"
            )
        corrected_id = await self._next_correction_id(row)
        await self._refresh_totals(row)
        # The CDR body exactly as the session's own CDR is made (hub.services.sessions).
        body = await self.sessions._cdr_body(row)
        if body is None or row.held_for_review:
            raise InvalidState(
                f"CDR {original.cdr_id} cannot be corrected: session {row.session_id} cannot "
                "be priced"
            )
        body["id"] = corrected_id
        return body

    async def _next_correction_id(self, row: ChargingSession) -> str:
        pattern = re.compile(re.escape(row.session_id + CORRECTION_SUFFIX) + r"(\d+)")
        numbers = [
            int(match.group(1))
            for cdr in await self.repository.cdrs_of_session(_pk(row))
            if (match := pattern.fullmatch(cdr.cdr_id)) is not None
        ]
        corrected_id = f"{row.session_id}{CORRECTION_SUFFIX}{max(numbers, default=0) + 1}"
        if len(corrected_id) > NORMAL_ID_LENGTH:
            raise InvalidState(
                f"session {row.session_id} cannot be billed again: the corrected CDR's id "
                f"{corrected_id} would be longer than {NORMAL_ID_LENGTH} characters"
            )
        return corrected_id

    # --- helpers ------------------------------------------------------------------------------

    async def _add_credit(self, credit: ChargeDetailRecord) -> ChargeDetailRecord:
        try:
            async with self.session.begin_nested():
                return await self.repository.add_cdr(credit)
        except IntegrityError as exc:  # another operator credited it meanwhile
            raise Conflict(
                f"CDR {credit.credit_reference_id} is credited already, by {credit.cdr_id}"
            ) from exc

    async def _refresh_totals(self, row: ChargingSession) -> None:
        # SessionService.refresh_totals keeps only the problems its computation finds; an
        # operator's decisions and the reasons a session was held are kept with them.
        before = list(row.problems or [])
        await self.sessions.refresh_totals(row)
        kept = list(dict.fromkeys([*before, *(row.problems or [])]))
        row.problems = kept[-MAX_PROBLEMS:]

    async def _push_session(self, row: ChargingSession) -> None:
        """The session again, whole, for its token's eMSP (never anyone else)."""
        change = await self.sessions.put_change(row)
        if change is not None and row.partner_id is not None:
            await self.sessions.push.fanout([change], only=row.partner_id)

    async def _queue_cdr(self, cdr: ChargeDetailRecord, session_id: str) -> int:
        """A CDR_POST for the CDR's eMSP, on its session's queue (so after what is queued
        there already)."""
        if cdr.partner_id is None:
            return 0
        return await self.sessions.push.fanout(
            [
                Change(
                    JobKind.CDR_POST,
                    session_queue(cdr.country_code, cdr.party_id, session_id),
                    {
                        "country_code": cdr.country_code,
                        "party_id": cdr.party_id,
                        "cdr": cdr.id,
                        "cdr_id": cdr.cdr_id,
                    },
                    coalesce_parts=(cdr.cdr_id,),
                    recipients=frozenset({cdr.partner_id}),
                )
            ],
            only=cdr.partner_id,
        )

    async def _partner_id(self, name: str | None) -> int | None:
        if name is None:
            return None
        return (await self.partners.get_by_name(name)).require_id()

    async def _session(self, reference: str, *, for_update: bool = False) -> ChargingSession:
        row = await self.repository.find(reference)
        if row is None:
            raise NotFound(f"no session with session id or transaction id {reference!r}")
        if for_update:
            # A charger's late message, or another operator, may be changing it right now.
            await self.session.refresh(row, with_for_update=True)
        return row

    async def _cdr(self, cdr_id: str) -> ChargeDetailRecord:
        cdr = await self.repository.cdr_by_id(cdr_id)
        if cdr is None:
            raise NotFound(f"no CDR with id {cdr_id!r}")
        return cdr


def credit_body(
    original: dict[str, Any], credit_id: str, reason: str, now: datetime
) -> dict[str, Any]:
    """The credit CDR of a CDR (wire form): its content, its own id, ``credit: true``, the
    original's id as ``credit_reference_id``, every cost negated, the reason as ``remark``."""
    body = copy.deepcopy(original)
    body["id"] = credit_id
    body["credit"] = True
    body["credit_reference_id"] = original["id"]
    body["remark"] = reason[:REMARK_LENGTH]
    body["last_updated"] = _iso(now)
    body.pop("invoice_reference_id", None)  # the original's invoice is not the credit's
    for name in COST_FIELDS:
        price = body.get(name)
        if isinstance(price, dict):
            body[name] = {
                key: _negated(value) if key in ("excl_vat", "incl_vat") else value
                for key, value in price.items()
            }
    return body


def _negated(value: object) -> object:
    if value is None:
        return None
    amount = -Decimal(str(value))
    # The wire form of an OCPI number, as the original's: an int when whole, else a float.
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _note(row: ChargingSession, line: str) -> None:
    row.problems = [*(row.problems or []), line][-MAX_PROBLEMS:]


def _session_id_of(cdr: ChargeDetailRecord) -> str:
    return str(cdr.body.get("session_id") or cdr.credit_reference_id or cdr.cdr_id)


def _name(names: dict[int, str], partner_id: int | None) -> str | None:
    return names.get(partner_id) if partner_id is not None else None


def _pk(row: ChargingSession) -> int:
    if row.id is None:
        raise ValueError("the session is not stored yet")
    return row.id


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
