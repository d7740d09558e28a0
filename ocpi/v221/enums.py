"""OCPI 2.2.1 enums, one ``StrEnum`` per spec enum; member values are the wire strings.

Closed and open enums
---------------------
Most enums are *closed*: their values are protocol state (``Status``, ``SessionStatus``,
``CommandResponseType``...), and an unknown value is an error.

Some value lists grow between OCPI versions, and peers already send the newer values on 2.2.1
connections. OCPI 2.3.0 (``types.asciidoc`` "OpenEnum") names them: ``Capability``,
``CommandType``, ``ConnectorType``, ``EnvironmentalImpactCategory``, ``Facility``,
``ImageCategory``, ``ModuleID``, ``ParkingRestriction``, ``ParkingType``, ``TokenType`` and
``VersionNumber``. A model field declared as :data:`OpenEnum` ``[X]`` accepts any string: a
known value becomes the member of ``X``, an unknown one stays a plain ``str``, so a single new
Facility or connector standard does not make a peer's whole Location invalid. Serialization
writes the string either way. ``EnergySourceCategory`` stays closed, as in 2.3.0.

The set of open enums follows 2.3.0 rather than the 2.2.1 text, which is silent on the subject.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Annotated, Any, TypeVar, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "AllowedType",
    "AuthMethod",
    "Capability",
    "CdrDimensionType",
    "ChargingPreferencesResponse",
    "ChargingProfileResponseType",
    "ChargingProfileResultType",
    "ChargingRateUnit",
    "CommandResponseType",
    "CommandResultType",
    "CommandType",
    "ConnectionStatus",
    "ConnectorFormat",
    "ConnectorType",
    "DayOfWeek",
    "EnergySourceCategory",
    "EnvironmentalImpactCategory",
    "Facility",
    "ImageCategory",
    "InterfaceRole",
    "ModuleID",
    "OpenEnum",
    "ParkingRestriction",
    "ParkingType",
    "PowerType",
    "ProfileType",
    "ReservationRestrictionType",
    "Role",
    "SessionStatus",
    "Status",
    "TariffDimensionType",
    "TariffType",
    "TokenType",
    "VersionNumber",
    "WhitelistType",
]

_E = TypeVar("_E", bound=StrEnum)


class _OpenEnumSchema:
    """Pydantic hook behind :data:`OpenEnum`: try the enum first, else keep the raw string.

    The union is validated left to right on purpose: pydantic's default "smart" union would
    prefer ``str`` (an exact type match) and never produce the enum member.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        enum_cls = next(
            arg for arg in get_args(source) if isinstance(arg, type) and issubclass(arg, Enum)
        )
        return core_schema.union_schema(
            [handler.generate_schema(enum_cls), core_schema.str_schema()], mode="left_to_right"
        )


OpenEnum = Annotated[_E | str, _OpenEnumSchema()]
"""``OpenEnum[X]``: a member of ``X`` when the value is known, otherwise the string as received.

Compare with the member (``value == ConnectorType.CHADEMO``) or its string; both work because
members are ``str``. Code that needs only known values checks ``isinstance(value, X)``.
"""


# --- Versions (version_information_endpoint.asciidoc) and types.asciidoc -----------------------


class VersionNumber(StrEnum):
    """Known OCPI versions (``version_information_endpoint.asciidoc`` "VersionNumber").

    Open in 2.3.0: a peer's version list may name versions newer than this table (``2.3.0``).
    """

    V2_0 = "2.0"
    V2_1 = "2.1"  # deprecated by the spec; use 2.1.1
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"  # deprecated by the spec; use 2.2.1
    V2_2_1 = "2.2.1"


class ModuleID(StrEnum):
    """Module identifiers of version details endpoints (``ModuleID`` enum).

    Open: the spec allows custom modules (e.g. ``nltnm-tokens``) between consenting parties.
    """

    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class InterfaceRole(StrEnum):
    """Which interface of a module an endpoint implements (``InterfaceRole`` enum)."""

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class Role(StrEnum):
    """Role of a party in a credentials exchange (``types.asciidoc`` "Role")."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


# --- Locations (mod_locations.asciidoc) ------------------------------------------------------


class Capability(StrEnum):
    """Functionalities of an EVSE (``mod_locations.asciidoc`` "Capability"). Open in 2.3.0."""

    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CHARGING_PREFERENCES_CAPABLE = "CHARGING_PREFERENCES_CAPABLE"
    CHIP_CARD_SUPPORT = "CHIP_CARD_SUPPORT"
    CONTACTLESS_CARD_SUPPORT = "CONTACTLESS_CARD_SUPPORT"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    DEBIT_CARD_PAYABLE = "DEBIT_CARD_PAYABLE"
    PED_TERMINAL = "PED_TERMINAL"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    START_SESSION_CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
    TOKEN_GROUP_CAPABLE = "TOKEN_GROUP_CAPABLE"  # noqa: S105 - an enum value, not a secret
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorFormat(StrEnum):
    """Socket or attached cable (``mod_locations.asciidoc`` "ConnectorFormat")."""

    SOCKET = "SOCKET"
    CABLE = "CABLE"


class ConnectorType(StrEnum):
    """Socket or plug standard (``mod_locations.asciidoc`` "ConnectorType"). Open in 2.3.0."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_SINGLE_16 = "IEC_60309_2_single_16"
    IEC_60309_2_THREE_16 = "IEC_60309_2_three_16"
    IEC_60309_2_THREE_32 = "IEC_60309_2_three_32"
    IEC_60309_2_THREE_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    # Not in 2.2.1: added by OCPI 2.3.0 for NACS. North American sites are being built with
    # J3400 connectors now, and 2.2.1 has no other way to describe them (TESLA_S is the
    # CAN-bus variant). Peers that validate strictly against 2.2.1 may reject it.
    SAE_J3400 = "SAE_J3400"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class EnergySourceCategory(StrEnum):
    """Categories of energy sources (``mod_locations.asciidoc`` "EnergySourceCategory")."""

    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    """Environmental impact categories (``EnvironmentalImpactCategory``). Open in 2.3.0."""

    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


class Facility(StrEnum):
    """Facilities a Location belongs to (``mod_locations.asciidoc`` "Facility"). Open in 2.3.0."""

    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BIKE_SHARING = "BIKE_SHARING"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAM_STOP = "TRAM_STOP"
    METRO_STATION = "METRO_STATION"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    PARKING_LOT = "PARKING_LOT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class ImageCategory(StrEnum):
    """What an image is used for (``mod_locations.asciidoc`` "ImageCategory"). Open in 2.3.0."""

    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class ParkingRestriction(StrEnum):
    """Restrictions of a parking spot (``ParkingRestriction``). Open in 2.3.0."""

    EV_ONLY = "EV_ONLY"
    PLUGGED = "PLUGGED"
    DISABLED = "DISABLED"
    CUSTOMERS = "CUSTOMERS"
    MOTORCYCLES = "MOTORCYCLES"


class ParkingType(StrEnum):
    """General type of parking at a Location (``ParkingType``). Open in 2.3.0."""

    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class PowerType(StrEnum):
    """AC phases or DC (``mod_locations.asciidoc`` "PowerType")."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class Status(StrEnum):
    """Status of an EVSE (``mod_locations.asciidoc`` "Status")."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


# --- Tariffs (mod_tariffs.asciidoc) ----------------------------------------------------------


class DayOfWeek(StrEnum):
    """Day of the week in tariff restrictions (``mod_tariffs.asciidoc`` "DayOfWeek")."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    """Marks a TariffElement as reservation cost (``ReservationRestrictionType``)."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffDimensionType(StrEnum):
    """Priced dimension of a PriceComponent (``mod_tariffs.asciidoc`` "TariffDimensionType")."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class TariffType(StrEnum):
    """Which sessions a Tariff applies to (``mod_tariffs.asciidoc`` "TariffType")."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


# --- Sessions (mod_sessions.asciidoc) --------------------------------------------------------


class ChargingPreferencesResponse(StrEnum):
    """Answer to a PUT of ChargingPreferences (``ChargingPreferencesResponse``)."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class ProfileType(StrEnum):
    """Smart charging preference of the driver (``mod_sessions.asciidoc`` "ProfileType")."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class SessionStatus(StrEnum):
    """State of a charging session (``mod_sessions.asciidoc`` "SessionStatus")."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


# --- CDRs (mod_cdrs.asciidoc) ----------------------------------------------------------------


class AuthMethod(StrEnum):
    """How a session was authorized (``mod_cdrs.asciidoc`` "AuthMethod")."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    """Measured dimension of a ChargingPeriod (``mod_cdrs.asciidoc`` "CdrDimensionType").

    ``CURRENT``, ``ENERGY_EXPORT``, ``ENERGY_IMPORT``, ``POWER`` and ``STATE_OF_CHARGE`` are
    for Sessions only; energies are in kWh, times in hours.
    """

    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


# --- Tokens (mod_tokens.asciidoc) ------------------------------------------------------------


class AllowedType(StrEnum):
    """Outcome of a real-time authorization (``mod_tokens.asciidoc`` "AllowedType")."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class TokenType(StrEnum):
    """Kind of token (``mod_tokens.asciidoc`` "TokenType"). Open in 2.3.0."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(StrEnum):
    """Whether a CPO may authorize a token locally (``mod_tokens.asciidoc`` "WhitelistType")."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


# --- Commands (mod_commands.asciidoc) --------------------------------------------------------


class CommandResponseType(StrEnum):
    """The CPO's synchronous answer to a command (``CommandResponseType``)."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    """The Charge Point's asynchronous result of a command (``CommandResultType``)."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandType(StrEnum):
    """Command names, used in the commands URL path (``mod_commands.asciidoc`` "CommandType").

    Open in 2.3.0, but it never appears in a body: a router answers unknown names itself.
    """

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


# --- Charging profiles (mod_charging_profiles.asciidoc) --------------------------------------


class ChargingRateUnit(StrEnum):
    """Unit of a charging profile: watts or amperes (``ChargingRateUnit``)."""

    W = "W"
    A = "A"


class ChargingProfileResponseType(StrEnum):
    """The CPO's synchronous answer to a charging profile request."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(StrEnum):
    """The EVSE's asynchronous result of a charging profile request."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


# --- Hub client info (mod_hub_client_info.asciidoc) ------------------------------------------


class ConnectionStatus(StrEnum):
    """State of a hub's connection to a party (``mod_hub_client_info.asciidoc``)."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"
