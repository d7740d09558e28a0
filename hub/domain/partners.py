"""Partners (eMSPs, hubs) and our own CPO parties: states and value objects, protocol-neutral."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PartnerStatus(StrEnum):
    """Lifecycle of a roaming connection.

    INVITED: we issued a registration token (OCPI token A); the partner has not registered yet.
    REGISTERING: we issued our token and are registering with the partner (we POST).
    REGISTERED: credentials exchanged; full access.
    SUSPENDED: registered, but the operator paused it: no functional-module access, no pushes.
    UNREGISTERED: credentials revoked by either side; kept for history.
    """

    INVITED = "INVITED"
    REGISTERING = "REGISTERING"
    REGISTERED = "REGISTERED"
    SUSPENDED = "SUSPENDED"
    UNREGISTERED = "UNREGISTERED"

    @property
    def has_credentials(self) -> bool:
        """Whether the partner went through a credentials exchange and still holds it."""
        return self in {PartnerStatus.REGISTERED, PartnerStatus.SUSPENDED}


class HeaderTokenEncoding(StrEnum):
    """How the partner encodes tokens in the Authorization header (see ``ocpi.auth``)."""

    AUTO = "auto"
    BASE64 = "base64"
    PLAIN = "plain"


class PartyRoleKind(StrEnum):
    """OCPI roles a party can have (``types.asciidoc`` "Role")."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


@dataclass(frozen=True, slots=True)
class PartyRole:
    """One role of a party: who it is and its business details (kept as received)."""

    role: str
    country_code: str
    party_id: str
    business_details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """The spec's uniqueness key: (role, country_code, party_id), case-insensitive."""
        return (self.role.upper(), self.country_code.upper(), self.party_id.upper())


@dataclass(frozen=True, slots=True)
class PartnerEndpoint:
    """One module endpoint the partner offers in its version details."""

    identifier: str
    role: str
    url: str


@dataclass(frozen=True, slots=True)
class PartnerConnection:
    """What a credentials exchange established about the partner's side."""

    versions_url: str
    version: str
    endpoints: tuple[PartnerEndpoint, ...]
    roles: tuple[PartyRole, ...]
    token: str
    """The token we use to call the partner."""


class EmaidTokenType(StrEnum):
    """The OCPI token type an eMAID (Plug & Charge contract id) travels as towards a partner:
    OCPI 2.2.1 has no EMAID type, so OTHER by default, RFID where the partner asks for it."""

    OTHER = "OTHER"
    RFID = "RFID"
