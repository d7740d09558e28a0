"""The free public data feed's ports (23 CFR 680.116(c)): the Locations and Tariffs Sender
ports of ``ocpi.v221.server.public``, answered for :data:`hub.domain.access.PUBLIC`.

They go through the same services, visibility rule and mappers as the partners' Sender GETs,
with the scope of nobody: published locations only, and the tariffs a published location (or
no location) references. The client passed in is ignored on purpose: whoever the router says
is asking, the feed never answers with more than the public sees.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain.access import PUBLIC
from hub.domain.assets import NacsMode
from hub.persistence.repositories.locations import LocationFilter
from hub.persistence.session import session_scope
from hub.roaming import mappers
from hub.services.locations import LocationService
from hub.services.tariffs import TariffService
from ocpi.errors import LocationNotFound
from ocpi.headers import PartyRef
from ocpi.v221 import models as v221
from ocpi.v221.ports import ClientIdentity, Page, SenderQuery
from ocpi.v221.server.public import PublicFeed


class PublicLocations:
    """Published locations, with EVSEs as a partner with ``nacs_mode`` sees them."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], nacs_mode: NacsMode):
        self._sessions = session_factory
        self._nacs_mode = nacs_mode

    async def list_locations(
        self,
        client: ClientIdentity,  # noqa: ARG002 - the public scope, whoever asks
        query: SenderQuery,
    ) -> Page[v221.Location]:
        location_filter = LocationFilter(
            scope=PUBLIC, date_from=query.page.date_from, date_to=query.page.date_to
        )
        async with session_scope(self._sessions) as session:
            views, total = await LocationService(session).visible_page(
                location_filter, offset=query.page.offset, limit=query.page.limit
            )
        return Page(
            items=[
                mappers.location_for_partner(v.location, v.evses, self._nacs_mode) for v in views
            ],
            total=total,
        )

    async def get_location(
        self,
        client: ClientIdentity,  # noqa: ARG002 - the public scope, whoever asks
        location_id: str,
        receiver: PartyRef | None,  # noqa: ARG002 - no routing headers on the public feed
    ) -> v221.Location:
        async with session_scope(self._sessions) as session:
            view = await LocationService(session).get_visible(
                location_id, LocationFilter(scope=PUBLIC)
            )
        if view is None:
            raise LocationNotFound(f"Unknown location {location_id}")
        return mappers.location_for_partner(view.location, view.evses, self._nacs_mode)


class PublicTariffs:
    """The tariffs the public may see (``hub.domain.access``)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def list_tariffs(
        self,
        client: ClientIdentity,  # noqa: ARG002 - the public scope, whoever asks
        query: SenderQuery,
    ) -> Page[v221.Tariff]:
        async with session_scope(self._sessions) as session:
            rows, total = await TariffService(session).page(
                scope=PUBLIC,
                date_from=query.page.date_from,
                date_to=query.page.date_to,
                offset=query.page.offset,
                limit=query.page.limit,
            )
        return Page(items=[mappers.tariff_model(row) for row in rows], total=total)


def build_public_feed(
    session_factory: async_sessionmaker[AsyncSession], nacs_mode: NacsMode
) -> PublicFeed:
    return PublicFeed(
        locations=PublicLocations(session_factory, nacs_mode),
        tariffs=PublicTariffs(session_factory),
    )
