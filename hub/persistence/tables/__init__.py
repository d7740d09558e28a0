"""SQLModel tables; importing this package registers every table on the metadata."""

from hub.persistence.tables.locations import Evse, Location, LocationVisibility
from hub.persistence.tables.outbox import PushJob
from hub.persistence.tables.parties import Party
from hub.persistence.tables.partners import Partner, PartnerRole
from hub.persistence.tables.stations import ChargingStation, EvseStatusChange
from hub.persistence.tables.tariffs import Tariff

__all__ = [
    "ChargingStation",
    "Evse",
    "EvseStatusChange",
    "Location",
    "LocationVisibility",
    "Partner",
    "PartnerRole",
    "Party",
    "PushJob",
    "Tariff",
]
