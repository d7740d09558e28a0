"""Hub Client Info module object (``mod_hub_client_info.asciidoc``)."""

from __future__ import annotations

from ocpi.types import CountryCode, DateTime, OcpiModel, PartyId
from ocpi.v221.enums import ConnectionStatus, Role

__all__ = ["ClientInfo"]


class ClientInfo(OcpiModel):
    """A party connected to a hub and the state of that connection (``"ClientInfo Object"``)."""

    party_id: PartyId
    country_code: CountryCode
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
