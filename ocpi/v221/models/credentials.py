"""Credentials module objects (``credentials.asciidoc`` "Object description" and "Data types").

:class:`BusinessDetails` and :class:`Image` belong to the Locations chapter, where they are
defined; they are re-exported here because every credentials role carries them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ocpi.types import URL, CountryCode, CredentialsToken, OcpiModel, PartyId
from ocpi.v221.enums import Role
from ocpi.v221.models.locations import BusinessDetails, Image

__all__ = ["BusinessDetails", "Credentials", "CredentialsRole", "Image"]


class CredentialsRole(OcpiModel):
    """One role a platform offers, with its party identity (``"CredentialsRole"``)."""

    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(OcpiModel):
    """Token, versions URL and roles of a platform (``credentials.asciidoc`` "Credentials").

    ``token`` "should only contain printable non-whitespace ASCII" (U+0021 to U+007E). That is
    enforced: the token travels in the ``Authorization`` header, where spaces, an empty value or
    non-ASCII text cannot be sent back reliably.
    """

    token: CredentialsToken
    url: URL
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]
