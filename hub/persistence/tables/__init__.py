"""SQLModel tables; importing this package registers every table on the metadata."""

from hub.persistence.tables.authorization import (
    AuthorizationDecisionRecord,
    OperatorTokenBlock,
    RemoteAuthorization,
)
from hub.persistence.tables.call_tokens import StationCallToken
from hub.persistence.tables.charging_profiles import SessionChargingProfile
from hub.persistence.tables.commands import Command
from hub.persistence.tables.hub_client_info import HubClientInfo
from hub.persistence.tables.local_lists import LocalAuthList, LocalAuthListEntry
from hub.persistence.tables.locations import Evse, Location, LocationVisibility, TariffReference
from hub.persistence.tables.nevi import NeviStation
from hub.persistence.tables.outbox import PushJob
from hub.persistence.tables.parties import Party
from hub.persistence.tables.partners import EmaidPrefix, Partner, PartnerParty, PartnerRole
from hub.persistence.tables.reservations import Reservation
from hub.persistence.tables.sessions import ChargeDetailRecord, ChargingSession, SessionMessage
from hub.persistence.tables.stations import ChargingStation, EvseStatusChange
from hub.persistence.tables.tariffs import Tariff
from hub.persistence.tables.tokens import Token, TokenPullCursor
from hub.persistence.tables.uptime import MaintenanceWindow, OutageExclusionEvent, PortOutage

__all__ = [
    "AuthorizationDecisionRecord",
    "ChargeDetailRecord",
    "ChargingSession",
    "ChargingStation",
    "Command",
    "EmaidPrefix",
    "Evse",
    "EvseStatusChange",
    "HubClientInfo",
    "LocalAuthList",
    "LocalAuthListEntry",
    "Location",
    "LocationVisibility",
    "MaintenanceWindow",
    "NeviStation",
    "OperatorTokenBlock",
    "OutageExclusionEvent",
    "Partner",
    "PartnerParty",
    "PartnerRole",
    "Party",
    "PortOutage",
    "PushJob",
    "RemoteAuthorization",
    "Reservation",
    "SessionChargingProfile",
    "SessionMessage",
    "StationCallToken",
    "Tariff",
    "TariffReference",
    "Token",
    "TokenPullCursor",
]
