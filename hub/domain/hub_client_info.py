"""What a hub partner tells us about the parties behind it (OCPI Hub Client Info), and the
rule that decides whether pushes may go to one of them.

A hub partner carries several parties: jobs are addressed to the partner, the party a delivery
is for is its receiver (the ``OCPI-to-*`` routing headers). For a session or a CDR that is the
eMSP party of the token; for a location or tariff pushed to a hub it is the hub itself (a
broadcast push, which the hub forwards to whom it can reach), so only the former wait for a
party to come back.

The rule (``mod_hub_client_info.asciidoc`` "Scenarios"): no requests to a party the hub reports
OFFLINE, SUSPENDED, or PLANNED ("no requests can be sent to this new party yet"); a party the
hub never reported on is reachable, so hubs without the module work as before. The roles that
count are those that receive pushes from a CPO: a report of the party as CPO says nothing about
its eMSP side. With several receiving roles under one party id, one CONNECTED suffices (the
hub's connection is to the party's platform).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ConnectionStatus(StrEnum):
    """State of a hub's connection to a party (``ConnectionStatus`` enum)."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


SENDER_ONLY_ROLES = frozenset({"CPO", "HUB"})
"""Roles that receive none of the pushes a CPO sends (a hub's own role is the broadcast
receiver, never reported on by the hub itself)."""


@dataclass(frozen=True, slots=True)
class ClientReport:
    """One ClientInfo a hub reported: a party in one role and the state of its connection."""

    country_code: str
    party_id: str
    role: str
    status: ConnectionStatus
    last_updated: datetime

    @property
    def party(self) -> tuple[str, str]:
        return (self.country_code.upper(), self.party_id.upper())


def reachable(reports: Iterable[ClientReport]) -> bool:
    """Whether pushes may go to the party these reports (all of one party, by one hub) are
    about: yes unless the hub reported it in a receiving role and never as CONNECTED there."""
    receiving = [r.status for r in reports if r.role.upper() not in SENDER_ONLY_ROLES]
    return not receiving or ConnectionStatus.CONNECTED in receiving
