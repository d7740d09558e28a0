"""Tokens module objects (``mod_tokens.asciidoc`` "Object description" and "Data types")."""

from __future__ import annotations

from typing import Annotated

from ocpi.types import CiString, CountryCode, DateTime, DisplayText, OcpiModel, PartyId, String
from ocpi.v221.enums import AllowedType, OpenEnum, ProfileType, TokenType, WhitelistType

__all__ = ["AuthorizationInfo", "EnergyContract", "LocationReferences", "Token", "TokenPatch"]

_Id = Annotated[str, CiString(36)]


class EnergyContract(OcpiModel):
    """The driver's own energy supplier and contract (``mod_tokens.asciidoc`` "EnergyContract")."""

    supplier_name: Annotated[str, String(64)]
    contract_id: Annotated[str, String(64)] | None = None


class Token(OcpiModel):
    """A driver's token as issued by the eMSP (``mod_tokens.asciidoc`` "Token Object").

    ``uid`` is unique only together with ``type``.
    """

    country_code: CountryCode
    party_id: PartyId
    uid: _Id
    type: OpenEnum[TokenType]
    contract_id: _Id
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)]
    group_id: _Id | None = None
    valid: bool
    whitelist: WhitelistType
    language: Annotated[str, String(2)] | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class TokenPatch(OcpiModel):
    """PATCH body for a Token: any subset of its fields, ``last_updated`` required.

    "Any request to the PATCH method SHALL contain the ``last_updated`` field"
    (``mod_tokens.asciidoc`` "PATCH Method").
    """

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    uid: _Id | None = None
    type: OpenEnum[TokenType] | None = None
    contract_id: _Id | None = None
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)] | None = None
    group_id: _Id | None = None
    valid: bool | None = None
    whitelist: WhitelistType | None = None
    language: Annotated[str, String(2)] | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    """Location and EVSEs a real-time authorization is asked for (``"LocationReferences"``)."""

    location_id: _Id
    evse_uids: list[_Id] | None = None


class AuthorizationInfo(OcpiModel):
    """The eMSP's answer to a real-time authorization (``"AuthorizationInfo Object"``).

    ``location`` lists only the EVSEs the driver may charge at.
    """

    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: _Id | None = None
    info: DisplayText | None = None
