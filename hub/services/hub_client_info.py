"""What hub partners report about the parties behind them (OCPI Hub Client Info), and the
push gate it drives (``hub.domain.hub_client_info``).

A delivery to a hub partner whose receiver party the hub reports unreachable is *held*: the
push worker marks the job ``held_for`` that party instead of sending it, and it stays pending,
unclaimed, at the head of its queue (so what follows it on that queue waits too, in order).
When the hub reports the party CONNECTED again, every job held for it is made due at once, in
the same transaction as the report: that is the party's resync. Nothing was dropped meanwhile
(a job superseded while held was replaced by a newer one, itself held), so nothing needs
rebuilding; a CDR, a bill, is never lost to an outage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import Party
from hub.domain.hub_client_info import ClientReport, ConnectionStatus, reachable
from hub.domain.partners import PartyRoleKind
from hub.errors import Forbidden
from hub.persistence.base import utc_now
from hub.persistence.repositories.hub_client_info import HubClientInfoRepository
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.tables import HubClientInfo


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What storing one report changed."""

    stored: bool
    """False: the report was older than the one stored for that party and role (kept)."""
    released: int = 0
    """Jobs held for the party that are due again (the party became reachable)."""


def _report(row: HubClientInfo) -> ClientReport:
    return ClientReport(
        country_code=row.country_code,
        party_id=row.party_id,
        role=row.role,
        status=ConnectionStatus(row.status),
        last_updated=row.last_updated,
    )


class HubClientInfoService:
    """Never commits; the caller owns the transaction."""

    def __init__(self, session: AsyncSession, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.infos = HubClientInfoRepository(session)
        self.partners = PartnerRepository(session)
        self.clock = clock

    async def is_hub(self, partner_id: int) -> bool:
        """Whether the partner's credentials declare the role HUB."""
        roles = await self.partners.roles_of(partner_id)
        return any(role.role.upper() == PartyRoleKind.HUB.value for role in roles)

    async def report(self, partner_id: int, report: ClientReport) -> ReportOutcome:
        """Store what a hub partner reports about one party in one role.

        A report older (``last_updated``) than the stored one for that party and role is
        ignored, so a late retry cannot undo a newer state. When the party becomes reachable
        by it, the jobs held for the party are due again.

        Raises:
            Forbidden: the partner is not a hub (its credentials declare no HUB role).
        """
        if not await self.is_hub(partner_id):
            raise Forbidden(
                "only a hub may report client info: the caller's credentials declare no HUB role"
            )
        party = report.party
        role = report.role.upper()
        row = await self.infos.get_for_update(partner_id, party, role)
        before = reachable(_report(r) for r in await self.infos.of_party(partner_id, party))
        if row is not None and row.last_updated > report.last_updated:
            return ReportOutcome(stored=False)
        if row is None:
            row = HubClientInfo(
                partner_id=partner_id,
                country_code=party[0],
                party_id=party[1],
                role=role,
                status=report.status.value,
                last_updated=report.last_updated,
            )
        else:
            row.status = report.status.value
            row.last_updated = report.last_updated
            row.touch()
        await self.infos.add(row)
        after = reachable(_report(r) for r in await self.infos.of_party(partner_id, party))
        released = 0
        if after and not before:
            released = await self.infos.release(partner_id, party, self.clock())
        return ReportOutcome(stored=True, released=released)

    async def get(self, partner_id: int, party: Party) -> ClientReport | None:
        """What the partner last reported about ``party``: with several roles under the party
        id, the most recently updated report (the OCPI URL names no role)."""
        rows = await self.infos.of_party(partner_id, (party[0].upper(), party[1].upper()))
        return _report(rows[0]) if rows else None

    async def reports(self, partner_id: int) -> Sequence[ClientReport]:
        """Everything the partner reported, by party and role."""
        return [_report(row) for row in await self.infos.of_partner(partner_id)]

    async def unreachable_parties(self, partner_ids: Iterable[int]) -> dict[int, frozenset[Party]]:
        """Per partner, the parties no push may go to now (partners without any: absent)."""
        found = await self.infos.unreachable_parties(partner_ids)
        return {partner_id: frozenset(parties) for partner_id, parties in found.items()}

    async def hold(
        self, job_ids: Sequence[int], worker: str, partner_id: int, party: Party
    ) -> set[int]:
        """Hold ``worker``'s claimed jobs whose receiver is ``party`` until the hub reports it
        CONNECTED; jobs of a party reported CONNECTED meanwhile are not held (the caller sends
        them). Returns the ids held."""
        return await self.infos.hold(job_ids, worker, partner_id, party)

    async def held(self, partner_id: int) -> dict[str, int]:
        """Pending jobs held, per party (``CC*PID``)."""
        return await self.infos.held_counts(partner_id)
