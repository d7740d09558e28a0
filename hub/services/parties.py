"""Our own CPO parties hosted on the platform."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.partners import PartyRoleKind
from hub.errors import Conflict
from hub.persistence.repositories.parties import PartyRepository
from hub.persistence.tables import Party


class PartyService:
    """Manage the CPO parties this platform operates (listed in our credentials ``roles``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.parties = PartyRepository(session)

    async def add(
        self,
        *,
        country_code: str,
        party_id: str,
        name: str,
        website: str | None = None,
        logo_url: str | None = None,
        role: PartyRoleKind = PartyRoleKind.CPO,
    ) -> Party:
        """Add a party; ``country_code`` and ``party_id`` are stored upper-case (CiString).

        Raises:
            Conflict: the (role, country_code, party_id) combination already exists.
        """
        country_code, party_id = country_code.upper(), party_id.upper()
        if await self.parties.get_by_key(role.value, country_code, party_id) is not None:
            raise Conflict(f"party {country_code}*{party_id} ({role.value}) already exists")
        return await self.parties.add(
            Party(
                role=role.value,
                country_code=country_code,
                party_id=party_id,
                name=name,
                website=website,
                logo_url=logo_url,
            )
        )

    async def list(self) -> Sequence[Party]:
        """All our parties, ordered by country code and party id."""
        return await self.parties.list()
