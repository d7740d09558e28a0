"""ChargingProfiles module, Receiver interface (``mod_charging_profiles.asciidoc``).

* ``GET {chargingprofiles_url}/{session_id}?duration={duration}&response_url={url}``: ask for the
  ActiveChargingProfile; both parameters are required ("Request Parameters": yes, yes).
* ``PUT {chargingprofiles_url}/{session_id}`` with a SetChargingProfile: set or replace the
  session's profile.
* ``DELETE {chargingprofiles_url}/{session_id}?response_url={url}``: clear it.

Each answers the port's ``ChargingProfileResponse`` as ``data``; the EVSE's result goes later to
``response_url`` (the host's job).

The server refuses with 2001, naming the field, before the port is asked:

* ``duration`` missing, given twice, or not a whole number of seconds from 0 to 2^31 - 1 (the
  spec says ``int``; OCPP, which carries it to the Charge Point, has 32-bit integers);
* ``response_url`` missing, given twice, or not an absolute http(s) URL of at most 255
  printable characters (an OCPI ``URL``);
* a profile whose numbers cannot describe a limit: a negative ``duration``,
  ``min_charging_rate`` or ``limit``; a rate with more than one decimal ("Accepts at most one
  digit fraction (e.g. 8.1)"); a ``start_period`` below 0 or not greater than the previous
  one (each period's start "also defines the stop time of the previous period", so they are in
  increasing order). The spec does not require the first ``start_period`` to be 0 (OCPP does):
  mapping such a profile onto the Charge Point is the host's decision.

A ``session_id`` that is not a ``CiString(36)`` names no session and is answered like an unknown
one, as the Sessions module does: HTTP 404, status 2000 (OCPI 2.2.1 has no "unknown session"
status code). A port that raises ``UnknownObject`` gets the same answer; a port may also answer
``UNKNOWN_SESSION``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Controller, Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from pydantic import TypeAdapter, ValidationError

from ocpi.errors import InvalidOrMissingParameters, UnknownObject, quote_input
from ocpi.headers import RoutingHeaders
from ocpi.types import URL, is_cistring
from ocpi.v221.models.charging_profiles import ChargingProfile, SetChargingProfile
from ocpi.v221.ports import ChargingProfilesReceiverPort, ClientIdentity, OcpiPorts
from ocpi.v221.server.body import OcpiBody, require_body
from ocpi.v221.server.common import ocpi_response, require_response_url

__all__ = ["MAX_DURATION", "ChargingProfilesReceiverController"]

MAX_DURATION = 2**31 - 1
"""Largest ``duration`` accepted, in seconds (a signed 32-bit integer, as in OCPP)."""

_ID_LENGTH = 36  # Session.id: CiString(36)
_URL = TypeAdapter(URL)
_PROBLEMS_SHOWN = 5


def _port(ports: OcpiPorts) -> ChargingProfilesReceiverPort:
    if ports.charging_profiles is None:  # the router only mounts this controller with a port
        raise UnknownObject("Charging profiles are not offered")
    return ports.charging_profiles


def _unknown_session(session_id: str) -> UnknownObject:
    return UnknownObject(f"Unknown session {quote_input(session_id)}")


def _require_session_id(session_id: str) -> None:
    if not is_cistring(session_id, _ID_LENGTH):
        raise _unknown_session(session_id)


def _one_query_value(request: Request[Any, Any, Any], name: str) -> str:
    values = request.query_params.getall(name, [])
    if not values:
        raise InvalidOrMissingParameters(f"Invalid request: query parameter {name} is required")
    if len(values) > 1:
        raise InvalidOrMissingParameters(
            f"Invalid request: query parameter {name} is given {len(values)} times; give it once"
        )
    value: str = values[0]
    return value


def _duration(request: Request[Any, Any, Any]) -> int:
    text = _one_query_value(request, "duration")
    # Digits only: int() would also take "+5", " 5" and "1_000".
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_DURATION:
        raise InvalidOrMissingParameters(
            "Invalid request: query parameter duration must be a whole number of seconds from 0"
            f" to {MAX_DURATION}, got {quote_input(text)}"
        )
    return int(text)


def _response_url(request: Request[Any, Any, Any]) -> str:
    text = _one_query_value(request, "response_url")
    where = "Invalid request: query parameter response_url"
    try:
        _URL.validate_python(text)
    except ValidationError:
        raise InvalidOrMissingParameters(
            f"{where} must be a URL of at most 255 printable characters, got {quote_input(text)}"
        ) from None
    return require_response_url(text, where=where)


def _at_most_one_decimal(value: Decimal) -> bool:
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -1


def _shown(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= 20 else text[:20] + "..."


def _rate_problem(value: Decimal) -> str | None:
    if value < 0:
        return f"must not be negative, got {_shown(value)}"
    if not _at_most_one_decimal(value):
        return f"must have at most one decimal (e.g. 8.1), got {_shown(value)}"
    return None


def _profile_problems(profile: ChargingProfile, where: str) -> list[str]:
    """What makes ``profile`` impossible, each naming its field under ``where``."""
    problems: list[str] = []
    if profile.duration is not None and profile.duration < 0:
        problems.append(f"{where}.duration must be 0 or more seconds, got {profile.duration}")
    if profile.min_charging_rate is not None:
        problem = _rate_problem(profile.min_charging_rate)
        if problem is not None:
            problems.append(f"{where}.min_charging_rate {problem}")
    previous: int | None = None
    for index, period in enumerate(profile.charging_profile_period or []):
        here = f"{where}.charging_profile_period[{index}]"
        if period.start_period < 0:
            problems.append(f"{here}.start_period must be 0 or more, got {period.start_period}")
        elif previous is not None and period.start_period <= previous:
            problems.append(
                f"{here}.start_period must be greater than the previous period's ({previous}),"
                f" got {period.start_period}"
            )
        previous = period.start_period if previous is None else max(previous, period.start_period)
        problem = _rate_problem(period.limit)
        if problem is not None:
            problems.append(f"{here}.limit {problem}")
    return problems


def _require_possible(body: SetChargingProfile) -> None:
    problems = _profile_problems(body.charging_profile, "charging_profile")
    if problems:
        shown = problems[:_PROBLEMS_SHOWN]
        if len(problems) > _PROBLEMS_SHOWN:
            shown.append(f"and {len(problems) - _PROBLEMS_SHOWN} more")
        raise InvalidOrMissingParameters("Invalid request body: " + "; ".join(shown))
    require_response_url(body.response_url, where="Invalid request body: response_url")


_PATH = "/{session_id:str}"


class ChargingProfilesReceiverController(Controller):
    path = "/2.2.1/chargingprofiles"
    tags = ["chargingprofiles"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(
        _PATH,
        operation_id="getActiveChargingProfile",
        summary="Ask for the ActiveChargingProfile of a session (result to response_url)",
    )
    async def get_active_charging_profile(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        session_id: FromPath[str],
    ) -> Response[dict[str, Any]]:
        routing = RoutingHeaders.parse(request.headers)
        _require_session_id(session_id)
        duration = _duration(request)
        response_url = _response_url(request)
        try:
            answer = await _port(ports).get_active_charging_profile(
                client, session_id, duration, response_url, routing.receiver
            )
        except UnknownObject:
            raise _unknown_session(session_id) from None
        return ocpi_response(answer, headers=routing.reversed().as_headers())

    @put(
        _PATH,
        dto=OcpiBody[SetChargingProfile],
        return_dto=None,
        operation_id="putChargingProfile",
        summary="Set or replace the ChargingProfile of a session (result to response_url)",
    )
    async def set_charging_profile(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        session_id: FromPath[str],
        data: JSONBody[SetChargingProfile | None] = None,
    ) -> Response[dict[str, Any]]:
        routing = RoutingHeaders.parse(request.headers)
        body = require_body(data)
        _require_session_id(session_id)
        _require_possible(body)
        try:
            answer = await _port(ports).set_charging_profile(
                client, session_id, body, routing.receiver
            )
        except UnknownObject:
            raise _unknown_session(session_id) from None
        return ocpi_response(answer, headers=routing.reversed().as_headers())

    @delete(
        _PATH,
        status_code=200,
        operation_id="deleteChargingProfile",
        summary="Clear the ChargingProfile set on a session (result to response_url)",
    )
    async def clear_charging_profile(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        session_id: FromPath[str],
    ) -> Response[dict[str, Any]]:
        routing = RoutingHeaders.parse(request.headers)
        _require_session_id(session_id)
        response_url = _response_url(request)
        try:
            answer = await _port(ports).clear_charging_profile(
                client, session_id, response_url, routing.receiver
            )
        except UnknownObject:
            raise _unknown_session(session_id) from None
        return ocpi_response(answer, headers=routing.reversed().as_headers())
