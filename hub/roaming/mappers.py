"""Explicit mappings between OCPI 2.2.1 wire models and the platform's tables and domain."""

from __future__ import annotations

from collections.abc import Sequence

from hub.domain.partners import PartnerConnection, PartnerEndpoint, PartnerStatus, PartyRole
from hub.persistence import tables
from hub.services.partners import AuthenticatedPartner
from ocpi.headers import PartyRef
from ocpi.v221 import enums as v221_enums
from ocpi.v221.models import credentials as v221_credentials
from ocpi.v221.models import versions as v221_versions
from ocpi.v221.ports import ClientIdentity


def endpoints_from_details(details: v221_versions.VersionDetails) -> tuple[PartnerEndpoint, ...]:
    return tuple(
        PartnerEndpoint(identifier=str(e.identifier), role=str(e.role), url=e.url)
        for e in details.endpoints
    )


def roles_from_credentials(credentials: v221_credentials.Credentials) -> tuple[PartyRole, ...]:
    return tuple(
        PartyRole(
            role=str(role.role),
            country_code=role.country_code,
            party_id=role.party_id,
            business_details=role.business_details.to_wire(),
        )
        for role in credentials.roles
    )


def connection_from_credentials(
    credentials: v221_credentials.Credentials,
    *,
    version: str,
    endpoints: tuple[PartnerEndpoint, ...],
) -> PartnerConnection:
    return PartnerConnection(
        versions_url=credentials.url,
        version=version,
        endpoints=endpoints,
        roles=roles_from_credentials(credentials),
        token=credentials.token,
    )


def our_credentials(
    *, token: str, versions_url: str, parties: Sequence[tables.Party]
) -> v221_credentials.Credentials:
    """Our credentials object: one CredentialsRole per CPO party hosted on the platform."""
    return v221_credentials.Credentials(
        token=token,
        url=versions_url,
        roles=[
            v221_credentials.CredentialsRole(
                role=v221_enums.Role(party.role),
                country_code=party.country_code,
                party_id=party.party_id,
                business_details=v221_credentials.BusinessDetails(
                    name=party.name, website=party.website
                ),
            )
            for party in parties
        ],
    )


def client_identity(
    authenticated: AuthenticatedPartner, roles: Sequence[tables.PartnerRole]
) -> ClientIdentity:
    partner = authenticated.partner
    status = PartnerStatus(partner.status)
    return ClientIdentity(
        client_id=str(partner.id),
        name=partner.name,
        token=authenticated.token,
        registered=status.has_credentials,
        active=status is PartnerStatus.REGISTERED,
        parties=tuple(PartyRef(r.country_code, r.party_id) for r in roles),
    )
