"""The OCPP local authorization list of a station, as pure functions: which tokens a station may
accept while it cannot reach us (NEVI 23 CFR 680.114(e): charging continues when the network is
disrupted), how they are written as list entries, what changes between two lists, and how an
update is cut into ``SendLocalList`` messages.

Schemas: ``ocpp/v16/schemas/SendLocalList.json`` and ``ocpp/v201/schemas/SendLocalListRequest.json``
of the ``ocpp`` package.

Which tokens (:func:`offline_eligible`): RFID tokens that are ``valid`` with whitelist ALWAYS,
ALLOWED or ALLOWED_OFFLINE: the tokens the whitelist rule (``hub.domain.authorization``) would
allow when the eMSP cannot be asked. NEVER tokens need the eMSP, invalid ones are refused; APP_USER
and AD_HOC_USER tokens are not presented at a reader. Which partners' tokens a station gets is
decided by the caller with ``hub.domain.access`` (a partner's tokens only at stations whose
locations it may see).

Entries: OCPP 1.6 ``{idTag, idTagInfo: {status: Accepted, parentIdTag?}}`` (an idTag is at most
20 characters: a longer uid cannot be listed); OCPP 2.0.1 ``{idToken: {idToken, type: ISO14443},
idTokenInfo: {status: Accepted, groupIdToken?, language1?}}``. No expiry date: a listed token
stays valid until we remove it (an expiry would make every list differ from the last). The
group id follows ``hub.domain.ocpp_tokens``.

The rule when the list is too small (:func:`select_entries`): the most recently updated tokens
first (OCPI ``last_updated``, newest first; then uid, country code and party id, so every station
with the same audience and size gets the same list). Newly issued and renewed cards are the likely
ones; and one computation serves every station alike.

Updates (:func:`messages`): a Full update that does not fit one message is sent as a Full with the
first part followed by Differential updates with the rest; every message carries the next version
(a station refuses a Differential whose version is not above its own). A removed token is an entry
without ``idTagInfo`` / ``idTokenInfo``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from hub.domain.authorization import AuthMethod, Decision, DecisionPath
from hub.domain.ocpp_tokens import (
    Ocpp201IdTokenType,
    ocpp16_parent_id_tag,
    ocpp16_status,
    ocpp201_group_id_token,
    ocpp201_status,
)
from hub.domain.stations import OcppVersion
from hub.domain.tokens import AllowedType, TokenKey, TokenType, WhitelistType

OFFLINE_WHITELISTS: Final = frozenset(
    {WhitelistType.ALWAYS, WhitelistType.ALLOWED, WhitelistType.ALLOWED_OFFLINE}
)
"""Whitelist types whose valid tokens a station may accept without asking us."""
LISTED_TYPES: Final = frozenset({TokenType.RFID})
OCPP16_ID_TAG_MAX: Final = 20
OCPP201_ID_TOKEN_MAX: Final = 36
OCPP201_LANGUAGE_MAX: Final = 8
MESSAGE_OVERHEAD_BYTES: Final = 200
"""What a ``SendLocalList`` frame needs besides its entries (``[2,"<id>","SendLocalList",{...}]``
with version and update type), counted against a station's ``BytesPerMessage``."""

_LISTED: Final = Decision(AllowedType.ALLOWED, DecisionPath.LOCAL, AuthMethod.WHITELIST, "listed")


class UpdateType(StrEnum):
    """``SendLocalList.updateType`` (same in 1.6 and 2.0.1)."""

    FULL = "Full"
    DIFFERENTIAL = "Differential"


@dataclass(frozen=True, slots=True)
class ListCandidate:
    """What the list computation needs of a stored token."""

    key: TokenKey
    valid: bool
    whitelist: WhitelistType
    last_updated: datetime
    group_id: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One entry of a station's list. ``key`` is how the station tells entries apart (id tags and
    id tokens are case-insensitive); ``item`` the entry as sent, in canonical JSON."""

    key: str
    item: str

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.item))


def _canonical(item: Mapping[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def offline_eligible(candidate: ListCandidate) -> bool:
    """Whether the token may be accepted by a station that cannot reach us."""
    return (
        candidate.valid
        and candidate.whitelist in OFFLINE_WHITELISTS
        and candidate.key.type in LISTED_TYPES
    )


def max_uid_length(version: OcppVersion) -> int:
    return OCPP16_ID_TAG_MAX if version is OcppVersion.V16 else OCPP201_ID_TOKEN_MAX


def entry_key(version: OcppVersion, id_token: str, id_token_type: str | None = None) -> str:
    if version is OcppVersion.V16:
        return id_token.upper()
    return f"{id_token_type or Ocpp201IdTokenType.ISO14443.value}:{id_token.upper()}"


def entry_for(candidate: ListCandidate, version: OcppVersion) -> ListEntry | None:
    """The list entry of an eligible token; None when it cannot be eligible or listed (a uid
    longer than the version's id token)."""
    if not offline_eligible(candidate) or len(candidate.key.uid) > max_uid_length(version):
        return None
    uid = candidate.key.uid
    if version is OcppVersion.V16:
        info: dict[str, Any] = {"status": ocpp16_status(_LISTED).value}
        parent = ocpp16_parent_id_tag(candidate.group_id)
        if parent is not None:
            info["parentIdTag"] = parent
        return ListEntry(entry_key(version, uid), _canonical({"idTag": uid, "idTagInfo": info}))
    id_type = Ocpp201IdTokenType.ISO14443.value
    token_info: dict[str, Any] = {"status": ocpp201_status(_LISTED).value}
    group = ocpp201_group_id_token(candidate.group_id)
    if group is not None:
        token_info["groupIdToken"] = group.as_payload()
    if candidate.language:
        token_info["language1"] = candidate.language[:OCPP201_LANGUAGE_MAX]
    item = {"idToken": {"idToken": uid, "type": id_type}, "idTokenInfo": token_info}
    return ListEntry(entry_key(version, uid, id_type), _canonical(item))


def rank(candidate: ListCandidate) -> tuple[float, str, str, str]:
    """Sort key of the selection rule: newest ``last_updated`` first, then by identity."""
    key = candidate.key
    return (-candidate.last_updated.timestamp(), key.uid, key.country_code, key.party_id)


@dataclass(frozen=True, slots=True)
class SelectedList:
    entries: tuple[ListEntry, ...]
    eligible: int
    """How many distinct entries were eligible (more than ``len(entries)``: truncated)."""

    @property
    def truncated(self) -> bool:
        return self.eligible > len(self.entries)


def select_entries(
    candidates: Iterable[ListCandidate], version: OcppVersion, limit: int
) -> SelectedList:
    """The entries a station of ``version`` holding at most ``limit`` should have (the rule in
    the module docstring). Two parties' cards with one uid are one entry: the better ranked."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    chosen: dict[str, ListEntry] = {}
    for candidate in sorted(candidates, key=rank):
        entry = entry_for(candidate, version)
        if entry is not None and entry.key not in chosen:
            chosen[entry.key] = entry
    ordered = list(chosen.values())
    return SelectedList(tuple(ordered[:limit]), len(ordered))


def removal_item(held_item: str, version: OcppVersion) -> dict[str, Any]:
    """The Differential entry that removes a held entry: its identifier, without info."""
    held = json.loads(held_item)
    if version is OcppVersion.V16:
        return {"idTag": held["idTag"]}
    return {"idToken": held["idToken"]}


@dataclass(frozen=True, slots=True)
class ListDiff:
    """What turns the held list into the wanted one: entries added or changed, keys removed."""

    upserts: tuple[ListEntry, ...]
    removals: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.upserts and not self.removals

    def items(self, held: Mapping[str, str], version: OcppVersion) -> list[dict[str, Any]]:
        """The Differential entries: removals first (they free room on a full station)."""
        removed = [removal_item(held[key], version) for key in self.removals]
        return removed + [entry.payload for entry in self.upserts]


def diff(held: Mapping[str, str], wanted: Sequence[ListEntry]) -> ListDiff:
    """``held``: entry key → item as the station holds it (per our records)."""
    wanted_keys = {entry.key for entry in wanted}
    upserts = tuple(entry for entry in wanted if held.get(entry.key) != entry.item)
    removals = tuple(sorted(key for key in held if key not in wanted_keys))
    return ListDiff(upserts, removals)


def _size(item: Mapping[str, Any]) -> int:
    return len(json.dumps(item, separators=(",", ":")).encode()) + 1


def split_items(
    items: Sequence[dict[str, Any]], *, max_items: int, max_bytes: int | None
) -> list[list[dict[str, Any]]]:
    """``items`` in order, cut into chunks of at most ``max_items`` entries and, if given,
    ``max_bytes`` per message (overhead included). An entry too big on its own goes alone."""
    if max_items < 1:
        raise ValueError("max_items must be at least 1")
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    used = MESSAGE_OVERHEAD_BYTES
    for item in items:
        size = _size(item)
        over_bytes = max_bytes is not None and current and used + size > max_bytes
        if len(current) >= max_items or over_bytes:
            chunks.append(current)
            current, used = [], MESSAGE_OVERHEAD_BYTES
        current.append(item)
        used += size
    if current:
        chunks.append(current)
    return chunks


def send_local_list(
    version: OcppVersion, list_version: int, update: UpdateType, items: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """One ``SendLocalList`` request payload (2.0.1 forbids an empty list: it is left out)."""
    number = "listVersion" if version is OcppVersion.V16 else "versionNumber"
    payload: dict[str, Any] = {number: list_version, "updateType": update.value}
    if items:
        payload["localAuthorizationList"] = list(items)
    return payload


def messages(
    version: OcppVersion,
    update: UpdateType,
    items: Sequence[dict[str, Any]],
    *,
    first_version: int,
    max_items: int,
    max_bytes: int | None,
) -> list[dict[str, Any]]:
    """The ``SendLocalList`` payloads of one update, versions ``first_version`` upwards.

    A Full update is always at least one message (an empty Full clears the list); the parts
    after its first are Differential. An empty Differential is no message at all.
    """
    chunks = split_items(items, max_items=max_items, max_bytes=max_bytes)
    if not chunks:
        if update is UpdateType.DIFFERENTIAL:
            return []
        chunks = [[]]
    return [
        send_local_list(
            version,
            first_version + index,
            update if index == 0 else UpdateType.DIFFERENTIAL,
            chunk,
        )
        for index, chunk in enumerate(chunks)
    ]


def next_version(ours: int, theirs: int | None) -> int:
    """The version of the next update: above both ours and the station's own."""
    return max(ours, theirs or 0) + 1


def fingerprint(parts: Iterable[object]) -> str:
    """A short stand-in for everything a list is computed from (see the sync pass)."""
    return hashlib.sha256(repr(tuple(parts)).encode()).hexdigest()[:32]
