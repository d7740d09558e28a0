"""Versions module objects (``version_information_endpoint.asciidoc``).

``version`` and ``identifier`` are open enums: a peer's version list may include versions newer
than 2.2.1, and its endpoint list may include custom modules.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ocpi.types import URL, OcpiModel
from ocpi.v221.enums import InterfaceRole, ModuleID, OpenEnum, VersionNumber

__all__ = ["Endpoint", "Version", "VersionDetails"]


class Version(OcpiModel):
    """One supported OCPI version and its details URL (``"Version class"``)."""

    version: OpenEnum[VersionNumber]
    url: URL


class Endpoint(OcpiModel):
    """One module interface and its URL (``"Endpoint class"``)."""

    identifier: OpenEnum[ModuleID]
    role: InterfaceRole
    url: URL


class VersionDetails(OcpiModel):
    """The endpoints of one version (``version_information_endpoint.asciidoc`` "Data")."""

    version: OpenEnum[VersionNumber]
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
