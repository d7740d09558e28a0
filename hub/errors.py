"""Protocol-neutral business errors raised by services.

``hub.roaming`` and ``hub.app`` translate them into OCPI status codes; the CLI prints them.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of expected business failures: never a 500."""


class NotFound(HubError):
    """The object does not exist (or is not visible to the caller)."""


class Conflict(HubError):
    """The change clashes with existing data (duplicate name, party claimed by another partner)."""


class Forbidden(HubError):
    """The caller may not do this."""


class InvalidState(HubError):
    """The object is not in a state that allows this operation."""


class InvalidRequest(HubError):
    """The request names or combines things wrongly (the message says which field)."""
