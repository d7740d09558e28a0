"""Build the OCPI Router from the host application's ports (the server's composition point)."""

from __future__ import annotations

from litestar import Controller, Router
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from ocpi.v221.enums import InterfaceRole, ModuleID
from ocpi.v221.ports import OcpiPorts
from ocpi.v221.server.cdrs import CdrsSenderController
from ocpi.v221.server.charging_profiles import ChargingProfilesReceiverController
from ocpi.v221.server.commands import CommandsReceiverController
from ocpi.v221.server.common import (
    ClientGuards,
    ServerConfig,
    exception_handlers,
    message_ids_middleware,
    provide_client,
)
from ocpi.v221.server.credentials import CredentialsController
from ocpi.v221.server.hub_client_info import HubClientInfoReceiverController
from ocpi.v221.server.locations import LocationsSenderController
from ocpi.v221.server.sessions import SessionsSenderController
from ocpi.v221.server.tariffs import TariffsSenderController
from ocpi.v221.server.tokens import TokensReceiverController
from ocpi.v221.server.versions import VersionsController

__all__ = ["build_router"]


def build_router(ports: OcpiPorts, config: ServerConfig, *, path: str = "/ocpi") -> Router:
    """The OCPI router: versions, version details and every module that has a port.

    Every route requires a known credentials token; functional modules (added as their ports
    appear) require a completed registration. Request bodies beyond ``config.max_body_bytes``
    are refused with HTTP 413.
    """
    guards = ClientGuards(ports)
    # Credentials: the spec advises to report the credentials endpoint as SENDER.
    offered = [(ModuleID.CREDENTIALS, InterfaceRole.SENDER)]
    functional: list[type[Controller]] = []
    if ports.locations is not None:
        offered.append((ModuleID.LOCATIONS, InterfaceRole.SENDER))
        functional.append(LocationsSenderController)
    if ports.tariffs is not None:
        offered.append((ModuleID.TARIFFS, InterfaceRole.SENDER))
        functional.append(TariffsSenderController)
    if ports.tokens is not None:
        offered.append((ModuleID.TOKENS, InterfaceRole.RECEIVER))
        functional.append(TokensReceiverController)
    if ports.sessions is not None:
        offered.append((ModuleID.SESSIONS, InterfaceRole.SENDER))
        functional.append(SessionsSenderController)
    if ports.cdrs is not None:
        offered.append((ModuleID.CDRS, InterfaceRole.SENDER))
        functional.append(CdrsSenderController)
    if ports.commands is not None:
        offered.append((ModuleID.COMMANDS, InterfaceRole.RECEIVER))
        functional.append(CommandsReceiverController)
    if ports.charging_profiles is not None:
        offered.append((ModuleID.CHARGING_PROFILES, InterfaceRole.RECEIVER))
        functional.append(ChargingProfilesReceiverController)
    if ports.hub_client_info is not None:
        # A configuration module without routing headers, but only a registered hub reports.
        offered.append((ModuleID.HUB_CLIENT_INFO, InterfaceRole.RECEIVER))
        functional.append(HubClientInfoReceiverController)
    handlers: list[ControllerRouterHandler] = [VersionsController, CredentialsController]
    if functional:
        handlers.append(
            Router(path="/", route_handlers=functional, guards=[guards.registered_client])
        )
    return Router(
        path=path,
        route_handlers=handlers,
        guards=[guards.any_client],
        dependencies={
            "client": Provide(provide_client, sync_to_thread=False),
            "ports": Provide(lambda: ports, sync_to_thread=False, use_cache=True),
            "server_config": Provide(lambda: config, sync_to_thread=False, use_cache=True),
            "offered_modules": Provide(lambda: offered, sync_to_thread=False, use_cache=True),
        },
        exception_handlers=exception_handlers,
        middleware=[message_ids_middleware],
        request_max_body_size=config.max_body_bytes,
    )
