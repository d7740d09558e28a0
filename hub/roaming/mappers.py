"""Explicit mappings between OCPI 2.2.1 wire models and the platform's tables and domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.domain import tokens
from hub.domain.access import PartyScope
from hub.domain.assets import (
    NACS_STANDARD,
    ConnectorSpec,
    EvseSpec,
    LocationSpec,
    NacsMode,
    StationLink,
    TariffSpec,
)
from hub.domain.partners import PartnerConnection, PartnerEndpoint, PartnerStatus, PartyRole
from hub.persistence import tables
from hub.services.partners import AuthenticatedPartner
from ocpi.headers import PartyRef
from ocpi.v221 import enums as v221_enums
from ocpi.v221 import models as v221
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


def client_identity(authenticated: AuthenticatedPartner, scope: PartyScope) -> ClientIdentity:
    """The OCPI identity of a partner; its parties are the ones it owns (``hub.domain.access``),
    never whatever it declared."""
    partner = authenticated.partner
    status = PartnerStatus(partner.status)
    return ClientIdentity(
        client_id=str(partner.id),
        name=partner.name,
        token=authenticated.token,
        registered=status.has_credentials,
        active=status is PartnerStatus.REGISTERED,
        parties=tuple(PartyRef(cc, pid) for cc, pid in sorted(scope.parties)),
    )


# --- Locations, EVSEs, connectors -----------------------------------------------------------

_LOCATION_KEYS = {
    "country_code", "party_id", "id", "publish", "name", "city", "time_zone", "evses",
    "last_updated",
}  # fmt: skip
_EVSE_KEYS = {"uid", "evse_id", "status", "connectors", "last_updated"}
_CONNECTOR_KEYS = {"id", "standard", "tariff_ids", "last_updated"}


def location_spec(
    location: v221.Location,
    *,
    visible_to: Sequence[str] = (),
    stations: Sequence[StationLink | None] = (),
) -> LocationSpec:
    """An OCPI Location as the desired state of an import. ``stations`` are the OCPP links of
    its EVSEs, in order (None where an EVSE has none)."""
    wire = location.to_wire()
    evses = location.evses or []
    return LocationSpec(
        country_code=location.country_code.upper(),
        party_id=location.party_id.upper(),
        location_id=location.id,
        publish=location.publish,
        time_zone=location.time_zone,
        name=location.name,
        city=location.city,
        attributes={k: v for k, v in wire.items() if k not in _LOCATION_KEYS},
        evses=tuple(
            evse_spec(evse, stations[i] if i < len(stations) else None)
            for i, evse in enumerate(evses)
        ),
        visible_to=tuple(ref.upper() for ref in visible_to),
    )


def evse_spec(evse: v221.EVSE, station: StationLink | None) -> EvseSpec:
    wire = evse.to_wire()
    return EvseSpec(
        uid=evse.uid,
        evse_id=evse.evse_id,
        status=evse.status.value,
        station=station,
        attributes={k: v for k, v in wire.items() if k not in _EVSE_KEYS},
        connectors=tuple(
            ConnectorSpec(
                connector_id=connector.id,
                standard=str(connector.standard),
                tariff_ids=tuple(connector.tariff_ids or ()),
                attributes={
                    k: v for k, v in connector.to_wire().items() if k not in _CONNECTOR_KEYS
                },
            )
            for connector in evse.connectors
        ),
    )


def _connectors_for(evse: tables.Evse, nacs_mode: NacsMode) -> list[dict[str, Any]]:
    connectors = []
    for stored in evse.connectors:
        if stored["standard"] == NACS_STANDARD and nacs_mode is NacsMode.OMIT:
            continue
        connectors.append(
            {
                **stored["attributes"],
                "id": stored["id"],
                "standard": stored["standard"],
                **({"tariff_ids": stored["tariff_ids"]} if stored["tariff_ids"] else {}),
                "last_updated": stored["last_updated"],
            }
        )
    return connectors


def evse_for_partner(evse: tables.Evse, nacs_mode: NacsMode) -> v221.EVSE | None:
    """The EVSE as a partner sees it; None when no connector is left for it (NACS only)."""
    connectors = _connectors_for(evse, nacs_mode)
    if not connectors:
        return None
    return v221.EVSE.model_validate(
        {
            **evse.attributes,
            "uid": evse.uid,
            **({"evse_id": evse.evse_id} if evse.evse_id else {}),
            "status": evse.status,
            "connectors": connectors,
            "last_updated": evse.last_updated,
        }
    )


def location_for_partner(
    location: tables.Location, evses: Sequence[tables.Evse], nacs_mode: NacsMode
) -> v221.Location:
    """The OCPI Location a partner sees: EVSEs it cannot use (NACS-only, see ``NacsMode``) are
    left out; the location itself always is sent."""
    shown = [e for e in (evse_for_partner(evse, nacs_mode) for evse in evses) if e is not None]
    return v221.Location.model_validate(
        {
            **location.attributes,
            "country_code": location.country_code,
            "party_id": location.party_id,
            "id": location.location_id,
            "publish": location.publish,
            **({"name": location.name} if location.name is not None else {}),
            "city": location.city,
            "time_zone": location.time_zone,
            **({"evses": [e.to_wire() for e in shown]} if shown else {}),
            "last_updated": location.last_updated,
        }
    )


def connector_for_partner(
    evse: tables.Evse, connector_id: str, nacs_mode: NacsMode
) -> v221.Connector | None:
    for connector in _connectors_for(evse, nacs_mode):
        if connector["id"] == connector_id:
            return v221.Connector.model_validate(connector)
    return None


def evse_status_patch(evse: tables.Evse) -> v221.EVSEPatch:
    return v221.EVSEPatch(status=v221_enums.Status(evse.status), last_updated=evse.last_updated)


def connector_tariffs_patch(connector: v221.Connector) -> v221.ConnectorPatch:
    return v221.ConnectorPatch(
        tariff_ids=connector.tariff_ids or [], last_updated=connector.last_updated
    )


# --- Tariffs ------------------------------------------------------------------------------------

_TARIFF_KEYS = {"country_code", "party_id", "id", "currency", "last_updated"}


def tariff_spec(tariff: v221.Tariff) -> TariffSpec:
    return TariffSpec(
        country_code=tariff.country_code.upper(),
        party_id=tariff.party_id.upper(),
        tariff_id=tariff.id,
        currency=tariff.currency,
        attributes={k: v for k, v in tariff.to_wire().items() if k not in _TARIFF_KEYS},
    )


def tariff_model(tariff: tables.Tariff) -> v221.Tariff:
    return v221.Tariff.model_validate(
        {
            **tariff.attributes,
            "country_code": tariff.country_code,
            "party_id": tariff.party_id,
            "id": tariff.tariff_id,
            "currency": tariff.currency,
            "last_updated": tariff.last_updated,
        }
    )


# --- Tokens -------------------------------------------------------------------------------------


def _energy_contract(contract: v221.EnergyContract | None) -> tokens.EnergyContract | None:
    if contract is None:
        return None
    return tokens.EnergyContract(contract.supplier_name, contract.contract_id)


def token_record(token: v221.Token) -> tokens.TokenRecord:
    """A Token as received (pushed or pulled). Its ``type`` must be a 2.2.1 TokenType (the
    server refuses others before mapping)."""
    return tokens.TokenRecord(
        key=tokens.key_of(
            token.country_code, token.party_id, token.uid, tokens.TokenType(token.type)
        ),
        contract_id=token.contract_id,
        visual_number=token.visual_number,
        issuer=token.issuer,
        group_id=token.group_id,
        valid=token.valid,
        whitelist=tokens.WhitelistType(token.whitelist),
        language=token.language,
        default_profile_type=(
            tokens.ProfileType(token.default_profile_type) if token.default_profile_type else None
        ),
        energy_contract=_energy_contract(token.energy_contract),
        last_updated=token.last_updated,
    )


def token_changes(patch: v221.TokenPatch) -> dict[str, Any]:
    """The table columns a Token PATCH sets (the key fields are checked, never changed)."""
    changes: dict[str, Any] = {}
    for name in patch.model_fields_set & set(tokens.TOKEN_FIELDS):
        value = getattr(patch, name)
        if name == "energy_contract":
            value = value.model_dump(mode="json") if value is not None else None
        elif name in {"whitelist", "default_profile_type"} and value is not None:
            value = str(value.value)
        changes[name] = value
    return changes


def token_model(token: tables.Token) -> v221.Token:
    return v221.Token.model_validate(
        {
            "country_code": token.country_code,
            "party_id": token.party_id,
            "uid": token.uid,
            "type": token.type,
            "contract_id": token.contract_id,
            "visual_number": token.visual_number,
            "issuer": token.issuer,
            "group_id": token.group_id,
            "valid": token.valid,
            "whitelist": token.whitelist,
            "language": token.language,
            "default_profile_type": token.default_profile_type,
            "energy_contract": token.energy_contract,
            "last_updated": token.last_updated,
        }
    )
