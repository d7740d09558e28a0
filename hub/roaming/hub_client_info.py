"""Hub Client Info Receiver port: what a hub partner reports about the parties behind it
(``hub.services.hub_client_info``), and ClientReport <-> the OCPI ClientInfo object."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain.access import party_label
from hub.domain.hub_client_info import ClientReport, ConnectionStatus
from hub.errors import Forbidden
from hub.persistence.session import session_scope
from hub.services.hub_client_info import HubClientInfoService
from ocpi.errors import InvalidOrMissingParameters, UnknownObject
from ocpi.v221.enums import ConnectionStatus as OcpiConnectionStatus
from ocpi.v221.enums import Role
from ocpi.v221.models.hub_client_info import ClientInfo
from ocpi.v221.ports import ClientIdentity

logger = logging.getLogger(__name__)


def client_report(info: ClientInfo) -> ClientReport:
    """The report an OCPI ClientInfo carries (party ids upper case: CiString)."""
    return ClientReport(
        country_code=info.country_code.upper(),
        party_id=info.party_id.upper(),
        role=info.role.value,
        status=ConnectionStatus(info.status.value),
        last_updated=info.last_updated,
    )


def client_info_model(report: ClientReport) -> ClientInfo:
    """The OCPI ClientInfo of a stored report (the Receiver GET)."""
    return ClientInfo(
        country_code=report.country_code,
        party_id=report.party_id,
        role=Role(report.role),
        status=OcpiConnectionStatus(report.status.value),
        last_updated=report.last_updated,
    )


class PartnerHubClientInfo:
    """Hub Client Info Receiver: only a partner whose credentials declare the role HUB may
    report (any other: 2001, nothing stored); each hub reads back only what it reported."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def get_client_info(
        self, client: ClientIdentity, country_code: str, party_id: str
    ) -> ClientInfo:
        async with session_scope(self._sessions) as session:
            report = await HubClientInfoService(session).get(
                int(client.client_id), (country_code, party_id)
            )
        if report is None:
            raise UnknownObject(f"No ClientInfo for party {country_code}*{party_id}")
        return client_info_model(report)

    async def put_client_info(self, client: ClientIdentity, info: ClientInfo) -> None:
        report = client_report(info)
        try:
            async with session_scope(self._sessions) as session:
                outcome = await HubClientInfoService(session).report(int(client.client_id), report)
        except Forbidden as exc:
            raise InvalidOrMissingParameters(str(exc)) from None
        if outcome.released:
            logger.warning(
                "hub %r reports %s CONNECTED: %s held pushes due again",
                client.name,
                party_label(report.party),
                outcome.released,
            )
        elif outcome.stored and report.status is not ConnectionStatus.CONNECTED:
            logger.info(
                "hub %r reports %s (%s) %s: no pushes to it until CONNECTED",
                client.name,
                party_label(report.party),
                report.role,
                report.status.value,
            )
