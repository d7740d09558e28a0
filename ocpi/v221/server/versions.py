"""Versions module, server side (``version_information_endpoint.asciidoc``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from ocpi.v221.enums import InterfaceRole, ModuleID, VersionNumber
from ocpi.v221.models.versions import Endpoint, Version, VersionDetails
from ocpi.v221.server.common import ServerConfig, ocpi_response

VERSION = VersionNumber.V2_2_1


def version_list(config: ServerConfig) -> list[Version]:
    """The versions we support: 2.2.1 only."""
    return [Version(version=VERSION, url=config.module_url(VERSION.value))]


def version_details(
    config: ServerConfig, modules: list[tuple[ModuleID, InterfaceRole]]
) -> VersionDetails:
    """Our 2.2.1 endpoints, one per offered module interface."""
    return VersionDetails(
        version=VERSION,
        endpoints=[
            Endpoint(
                identifier=module, role=role, url=config.module_url(VERSION.value, module.value)
            )
            for module, role in modules
        ],
    )


class VersionsController(Controller):
    """GET version information and GET version details; any known token (A, B or C) may call."""

    path = "/"
    tags = ["versions"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get("/versions", operation_id="getVersions", summary="Supported OCPI versions")
    async def get_versions(
        self, server_config: NamedDependency[ServerConfig]
    ) -> Response[dict[str, Any]]:
        return ocpi_response(version_list(server_config))

    @get(f"/{VERSION.value}", operation_id="getVersionDetails", summary="Endpoints of OCPI 2.2.1")
    async def get_version_details(
        self,
        server_config: NamedDependency[ServerConfig],
        offered_modules: NamedDependency[list[tuple[ModuleID, InterfaceRole]]],
    ) -> Response[dict[str, Any]]:
        return ocpi_response(version_details(server_config, offered_modules))
