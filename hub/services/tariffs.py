"""Tariffs of our parties: import, delete, reads; changes are pushed through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import Audience, PartyScope
from hub.domain.assets import ImportKind, ImportReport, TariffSpec, object_label, party_key
from hub.domain.push import JobKind, tariff_queue
from hub.errors import Conflict, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.access import AccessRepository, TariffKey
from hub.persistence.repositories.parties import PartyRepository
from hub.persistence.repositories.tariffs import TariffRepository
from hub.persistence.tables import Tariff
from hub.services.push import Change, PushService


def tariff_change(
    key: TariffKey,
    audience: Audience,
    kind: JobKind = JobKind.TARIFF_PUT,
    *,
    recipients: frozenset[int] | None = None,
) -> Change:
    country_code, party_id, tariff_id = key
    return Change(
        kind=kind,
        queue_key=tariff_queue(country_code, party_id, tariff_id),
        target={"country_code": country_code, "party_id": party_id, "tariff_id": tariff_id},
        audience=audience,
        recipients=recipients,
    )


def tariff_key(tariff: Tariff) -> TariffKey:
    return (tariff.country_code, tariff.party_id, tariff.tariff_id)


class TariffService:
    """Use cases on tariffs. Never commits; the caller owns the transaction."""

    def __init__(self, session: AsyncSession, push: PushService | None = None) -> None:
        self.tariffs = TariffRepository(session)
        self.parties = PartyRepository(session)
        self.access = AccessRepository(session)
        self.push = push or PushService(session)

    async def audience(self, tariff: Tariff) -> Audience:
        """Who may see the tariff: decided by the locations referencing it."""
        return (await self.audiences([tariff_key(tariff)]))[tariff_key(tariff)]

    async def audiences(self, keys: Sequence[TariffKey]) -> dict[TariffKey, Audience]:
        access = await self.access.tariff_access(keys)
        return {key: Audience.of_tariff(access.get(key, [])) for key in keys}

    async def changes_for(
        self, rows: Sequence[Tariff], kind: JobKind = JobKind.TARIFF_PUT
    ) -> list[Change]:
        audiences = await self.audiences([tariff_key(row) for row in rows])
        return [tariff_change(tariff_key(row), audiences[tariff_key(row)], kind) for row in rows]

    async def import_tariffs(self, specs: Sequence[TariffSpec]) -> ImportReport:
        """Create or update tariffs to match ``specs``; identical ones are left untouched.

        Raises:
            NotFound: a tariff belongs to a party we do not operate.
            Conflict: the same tariff appears twice.
        """
        keys = [(s.country_code.upper(), s.party_id.upper(), s.tariff_id) for s in specs]
        if len(set(keys)) != len(keys):
            raise Conflict("the same tariff (country_code, party_id, id) appears twice")
        report = ImportReport(ImportKind.TARIFFS)
        changed: list[Tariff] = []
        now = utc_now()
        for spec, key in zip(specs, keys, strict=True):
            party = await self.parties.get_by_key("CPO", key[0], key[1])
            if party is None or party.id is None:
                raise NotFound(
                    f"tariff {spec.tariff_id}: we operate no party {party_key(*key[:2])}"
                )
            row = await self.tariffs.get(*key)
            label = object_label(*key)
            if row is None:
                row = await self.tariffs.add(
                    Tariff(
                        party_ref=party.id,
                        country_code=key[0],
                        party_id=key[1],
                        tariff_id=spec.tariff_id,
                        currency=spec.currency,
                        attributes=spec.attributes,
                        last_updated=now,
                    )
                )
                report.created.append(label)
            elif row.currency != spec.currency or row.attributes != spec.attributes:
                row.currency, row.attributes, row.last_updated = spec.currency, spec.attributes, now
                row.touch()
                report.updated.append(label)
            else:
                report.unchanged.append(label)
                continue
            changed.append(row)
        await self.tariffs.session.flush()
        await self.push.fanout(await self.changes_for(changed))
        return report

    async def delete(self, country_code: str, party_id: str, tariff_id: str) -> None:
        """Delete a tariff here and at every partner (Tariffs receiver DELETE).

        Raises:
            NotFound: we operate no such party, or it has no such tariff.
        """
        key = (country_code.upper(), party_id.upper())
        party = await self.parties.get_by_key("CPO", *key)
        if party is None:
            raise NotFound(f"we operate no party {party_key(*key)} (see `hub parties list`)")
        row = await self.tariffs.get(*key, tariff_id)
        if row is None:
            raise NotFound(f"no tariff {tariff_id} of party {party_key(*key)}")
        (change,) = await self.changes_for([row], JobKind.TARIFF_DELETE)
        await self.tariffs.session.delete(row)
        await self.tariffs.session.flush()
        await self.push.fanout([change])

    async def page(
        self,
        *,
        scope: PartyScope | None = None,
        owner: tuple[str, str] | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[Sequence[Tariff], int]:
        """Tariffs in a stable order with the Sender GET filters, and their total.

        ``scope``: only the tariffs that partner may see; None is the operator's view (all).
        """
        return await self.tariffs.page(
            scope=scope,
            owner=owner,
            date_from=date_from,
            date_to=date_to,
            offset=offset,
            limit=limit,
        )

    async def get(self, country_code: str, party_id: str, tariff_id: str) -> Tariff | None:
        return await self.tariffs.get(country_code, party_id, tariff_id)

    async def all_changes(self) -> list[Change]:
        """A TARIFF_PUT change for every tariff (full resynchronisation)."""
        rows, _ = await self.tariffs.page()
        return await self.changes_for(rows)
