"""Push jobs: what is pushed to partners, how changes coalesce, and the retry schedule."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class JobState(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    SUPERSEDED = "SUPERSEDED"
    REJECTED = "REJECTED"
    """The partner refused this version of the object (HTTP 4xx other than 401/408/429, or OCPI
    2xxx); retrying cannot help. The next change of the object is tried again."""


class JobKind(StrEnum):
    """What a job sends (OCPI Locations and Tariffs receiver interfaces of the partner).

    LOCATION_PUT: the whole location with its EVSEs (new or changed location).
    EVSE_PATCH: the EVSE's ``status`` and ``last_updated``.
    CONNECTOR_PATCH: the connector's ``tariff_ids`` and ``last_updated``.
    TARIFF_PUT / TARIFF_DELETE: one tariff.
    SESSION_PUT / SESSION_PATCH: a charging session, to the eMSP of its token only.
    CDR_POST: a CDR, to the eMSP of its token only; on the session's queue, after its last
    PATCH. A CDR is never coalesced: each one is a bill.
    COMMAND_RESULT: the result of a command, POSTed to the ``response_url`` the eMSP gave with
    it (whatever endpoints it listed); one per command, never coalesced.
    ACTIVE_PROFILE_PUT: a session's ActiveChargingProfile, PUT to the ChargingProfiles Sender
    interface of the eMSP that set a profile on it; a newer one supersedes an undelivered one.
    """

    LOCATION_PUT = "LOCATION_PUT"
    EVSE_PATCH = "EVSE_PATCH"
    CONNECTOR_PATCH = "CONNECTOR_PATCH"
    TARIFF_PUT = "TARIFF_PUT"
    TARIFF_DELETE = "TARIFF_DELETE"
    SESSION_PUT = "SESSION_PUT"
    SESSION_PATCH = "SESSION_PATCH"
    CDR_POST = "CDR_POST"
    COMMAND_RESULT = "COMMAND_RESULT"
    ACTIVE_PROFILE_PUT = "ACTIVE_PROFILE_PUT"

    @property
    def module(self) -> str:
        return _MODULES.get(self, "locations")

    @property
    def supersedes_queue(self) -> bool:
        """Whether this job replaces pending jobs of other kinds on its queue (a whole object
        sent), rather than only the same job of the same object (see :func:`coalesce_key`)."""
        return self in {
            JobKind.LOCATION_PUT,
            JobKind.TARIFF_PUT,
            JobKind.TARIFF_DELETE,
            JobKind.SESSION_PUT,
        }

    @property
    def supersedes(self) -> frozenset[JobKind]:
        """Undelivered kinds on the same queue that this job makes pointless.

        A location PUT carries every EVSE and connector, so it replaces pending PATCHes of that
        location; a tariff PUT or DELETE replaces pending ones of the same tariff. PATCHes only
        replace the same PATCH of the same object (see :func:`coalesce_key`).
        """
        if self is JobKind.LOCATION_PUT:
            return frozenset({JobKind.LOCATION_PUT, JobKind.EVSE_PATCH, JobKind.CONNECTOR_PATCH})
        if self in {JobKind.TARIFF_PUT, JobKind.TARIFF_DELETE}:
            return frozenset({JobKind.TARIFF_PUT, JobKind.TARIFF_DELETE})
        if self is JobKind.SESSION_PUT:
            # Not an earlier PUT: one may precede a pending CDR on the queue (a correction after
            # the end), and the session's final state must reach the eMSP before its bill.
            return frozenset({JobKind.SESSION_PATCH})
        if self in {JobKind.CDR_POST, JobKind.COMMAND_RESULT}:
            return frozenset()
        return frozenset({self})


_MODULES = {
    JobKind.TARIFF_PUT: "tariffs",
    JobKind.TARIFF_DELETE: "tariffs",
    JobKind.SESSION_PUT: "sessions",
    JobKind.SESSION_PATCH: "sessions",
    JobKind.CDR_POST: "cdrs",
    JobKind.COMMAND_RESULT: "commands",
    JobKind.ACTIVE_PROFILE_PUT: "chargingprofiles",
}


def location_queue(country_code: str, party_id: str, location_id: str) -> str:
    return f"locations/{country_code}/{party_id}/{location_id}"


def tariff_queue(country_code: str, party_id: str, tariff_id: str) -> str:
    return f"tariffs/{country_code}/{party_id}/{tariff_id}"


def session_queue(country_code: str, party_id: str, session_id: str) -> str:
    """One FIFO for a session and its CDRs: the CDR follows the session's last PATCH."""
    return f"sessions/{country_code}/{party_id}/{session_id}"


def command_queue(command_id: int) -> str:
    """One FIFO per command: its result, then (a reservation) a CANCELED_RESERVATION."""
    return f"commands/{command_id}"


def coalesce_key(kind: JobKind, queue_key: str, *parts: str) -> str:
    """Jobs with equal keys are interchangeable: the newer one supersedes the undelivered older."""
    if kind is JobKind.LOCATION_PUT or kind.module == "tariffs":
        return queue_key
    if kind is JobKind.CDR_POST:
        return "/".join((kind.value, queue_key, *parts))
    return "/".join((kind.value, queue_key, *parts))


class Failure(StrEnum):
    """What a failed delivery says, and so what becomes of the job and of the partner's health."""

    TRANSIENT = "TRANSIENT"
    """The partner could not take the request now (unreachable, HTTP 5xx, 401, 408, 429, OCPI
    3xxx/4xxx, an answer that is not OCPI): retried with backoff; counts against the partner's
    reachability."""
    REJECTED = "REJECTED"
    """The partner refuses this object (HTTP 4xx other than 401/408/429, OCPI 2xxx): final for
    this version of it; says nothing about the partner's reachability."""
    UNKNOWN_OBJECT = "UNKNOWN_OBJECT"
    """A PATCH of an object the partner does not have: the whole object is PUT instead."""


# 401: our credentials are refused (the partner's problem as a whole, until fixed); 408 and 429:
# the partner asks us to come back later. Every other 4xx is about the request, i.e. the object.
RETRIED_CLIENT_ERRORS = frozenset({401, 408, 429})
UNKNOWN_LOCATION = 2003  # OCPI status code "Unknown Location"


def classify_failure(
    method: str, *, http_status: int | None = None, ocpi_status: int | None = None
) -> Failure:
    """Classify a failed push by the partner's HTTP status (when not 2xx) or, under HTTP 2xx, its
    envelope's OCPI status code; neither (transport error, not OCPI) is transient."""
    if http_status is not None and not 200 <= http_status < 300:
        if http_status == 404 and method == "PATCH":
            return Failure.UNKNOWN_OBJECT
        if 400 <= http_status < 500 and http_status not in RETRIED_CLIENT_ERRORS:
            return Failure.REJECTED
        return Failure.TRANSIENT
    if ocpi_status is not None:
        if ocpi_status == UNKNOWN_LOCATION and method == "PATCH":
            return Failure.UNKNOWN_OBJECT
        if 2000 <= ocpi_status < 3000:
            return Failure.REJECTED
    return Failure.TRANSIENT


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; a partner is degraded after N consecutive
    transient failures (see :class:`Failure`)."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=10)
    degraded_after: int = 8

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Delay before the next try after ``attempts`` failed tries (``attempts`` >= 1).

        Half the exponential step is fixed and half random, so retries of many jobs spread out
        without ever retrying immediately.
        """
        ceiling = min(self.cap, self.base * (2 ** min(attempts - 1, 30)))
        draw = rng.random() if rng is not None else random.random()  # noqa: S311 - jitter
        half: timedelta = ceiling / 2
        return half + half * draw
