"""The local authorization list as pure functions: selection, the truncation rule, the diff,
message splitting, and the entries' OCPP shape (checked against the ocpp package's schemas)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.messages import MessageType, get_validator

from hub.domain.local_lists import (
    MESSAGE_OVERHEAD_BYTES,
    ListCandidate,
    UpdateType,
    diff,
    entry_for,
    messages,
    next_version,
    select_entries,
    split_items,
)
from hub.domain.stations import OcppVersion
from hub.domain.tokens import TokenKey, TokenType, WhitelistType

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def candidate(
    uid: str,
    *,
    minutes: int = 0,
    valid: bool = True,
    whitelist: WhitelistType = WhitelistType.ALLOWED,
    type_: TokenType = TokenType.RFID,
    party: str = "EMA",
    group_id: str | None = None,
    language: str | None = None,
) -> ListCandidate:
    return ListCandidate(
        key=TokenKey("US", party, uid, type_),
        valid=valid,
        whitelist=whitelist,
        last_updated=T0 + timedelta(minutes=minutes),
        group_id=group_id,
        language=language,
    )


def uids(entries, version=OcppVersion.V16) -> list[str]:
    key = "idTag" if version is OcppVersion.V16 else "idToken"
    out = []
    for entry in entries:
        value = entry.payload[key]
        out.append(value if isinstance(value, str) else value["idToken"])
    return out


@pytest.mark.parametrize(
    ("whitelist", "valid", "listed"),
    [
        (WhitelistType.ALWAYS, True, True),
        (WhitelistType.ALLOWED, True, True),
        (WhitelistType.ALLOWED_OFFLINE, True, True),
        (WhitelistType.NEVER, True, False),
        (WhitelistType.ALWAYS, False, False),
        (WhitelistType.ALLOWED, False, False),
        (WhitelistType.ALLOWED_OFFLINE, False, False),
    ],
)
def test_only_valid_tokens_the_station_may_accept_alone_are_listed(whitelist, valid, listed):
    selected = select_entries(
        [candidate("CARD1", whitelist=whitelist, valid=valid)], OcppVersion.V16, 10
    )
    assert uids(selected.entries) == (["CARD1"] if listed else [])


@pytest.mark.parametrize("type_", [TokenType.APP_USER, TokenType.AD_HOC_USER, TokenType.OTHER])
def test_tokens_no_reader_presents_are_not_listed(type_):
    assert select_entries([candidate("X1", type_=type_)], OcppVersion.V201, 10).entries == ()


def test_a_uid_longer_than_an_ocpp16_id_tag_is_left_out_but_fits_201():
    long_uid = "A" * 21
    assert select_entries([candidate(long_uid)], OcppVersion.V16, 10).entries == ()
    assert uids(
        select_entries([candidate(long_uid)], OcppVersion.V201, 10).entries, OcppVersion.V201
    ) == [long_uid]


def test_too_small_a_list_keeps_the_most_recently_updated_tokens():
    tokens = [candidate(f"CARD{n}", minutes=n) for n in range(10)]
    selected = select_entries(reversed(tokens), OcppVersion.V16, 3)
    assert uids(selected.entries) == ["CARD9", "CARD8", "CARD7"]
    assert selected.eligible == 10
    assert selected.truncated


def test_ties_are_broken_by_uid_so_every_station_gets_the_same_list():
    tokens = [candidate(uid) for uid in ("C", "A", "B")]
    assert uids(select_entries(tokens, OcppVersion.V16, 2).entries) == ["A", "B"]


def test_one_uid_of_two_parties_is_one_entry_the_better_ranked():
    older = candidate("card1", party="EMA", minutes=0, group_id="OLD")
    newer = candidate("CARD1", party="EMB", minutes=5, group_id="NEW")
    selected = select_entries([older, newer], OcppVersion.V16, 10)
    assert [e.payload for e in selected.entries] == [
        {"idTag": "CARD1", "idTagInfo": {"status": "Accepted", "parentIdTag": "NEW"}}
    ]


def test_entry_shapes_follow_the_ocpp_schemas():
    token = candidate("CARD1", group_id="FLEET-7", language="en")
    entry16 = entry_for(token, OcppVersion.V16)
    entry201 = entry_for(token, OcppVersion.V201)
    assert entry16 is not None
    assert entry201 is not None
    assert entry16.payload == {
        "idTag": "CARD1",
        "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET-7"},
    }
    assert entry201.payload == {
        "idToken": {"idToken": "CARD1", "type": "ISO14443"},
        "idTokenInfo": {
            "status": "Accepted",
            "groupIdToken": {"idToken": "FLEET-7", "type": "Central"},
            "language1": "en",
        },
    }
    for version, entry in ((OcppVersion.V16, entry16), (OcppVersion.V201, entry201)):
        payloads = messages(
            version, UpdateType.FULL, [entry.payload], first_version=1, max_items=10, max_bytes=None
        )
        validator = get_validator(MessageType.Call, "SendLocalList", version.value)
        assert list(validator.iter_errors(payloads[0])) == []


def test_a_group_id_too_long_for_ocpp16_is_left_out():
    entry = entry_for(candidate("CARD1", group_id="G" * 21), OcppVersion.V16)
    assert entry is not None
    assert entry.payload == {"idTag": "CARD1", "idTagInfo": {"status": "Accepted"}}


def test_diff_adds_changes_and_removes():
    held_list = select_entries(
        [candidate("KEEP"), candidate("GONE"), candidate("CHANGED", group_id="A")],
        OcppVersion.V16,
        10,
    ).entries
    held = {entry.key: entry.item for entry in held_list}
    wanted = select_entries(
        [candidate("KEEP"), candidate("NEW"), candidate("CHANGED", group_id="B")],
        OcppVersion.V16,
        10,
    ).entries
    changes = diff(held, wanted)
    assert sorted(uids(changes.upserts)) == ["CHANGED", "NEW"]
    assert changes.removals == ("GONE",)
    items = changes.items(held, OcppVersion.V16)
    # A removal is an entry without idTagInfo, sent first.
    assert items[0] == {"idTag": "GONE"}
    assert diff({entry.key: entry.item for entry in wanted}, wanted).empty


def test_a_201_removal_carries_the_id_token_without_info():
    held_list = select_entries([candidate("GONE")], OcppVersion.V201, 10).entries
    held = {entry.key: entry.item for entry in held_list}
    assert diff(held, []).items(held, OcppVersion.V201) == [
        {"idToken": {"idToken": "GONE", "type": "ISO14443"}}
    ]


def test_split_by_items_per_message():
    items = [{"idTag": f"T{n}"} for n in range(7)]
    assert [len(c) for c in split_items(items, max_items=3, max_bytes=None)] == [3, 3, 1]


def test_split_by_bytes_per_message():
    items = [{"idTag": f"T{n:03d}"} for n in range(10)]  # 16 bytes each, with the comma
    size = len(json.dumps(items[0], separators=(",", ":"))) + 1
    chunks = split_items(items, max_items=100, max_bytes=MESSAGE_OVERHEAD_BYTES + 4 * size)
    assert [len(c) for c in chunks] == [4, 4, 2]


def test_a_full_update_in_parts_is_full_then_differentials_with_rising_versions():
    items = [{"idTag": f"T{n}"} for n in range(5)]
    payloads = messages(
        OcppVersion.V16, UpdateType.FULL, items, first_version=4, max_items=2, max_bytes=None
    )
    assert [
        (p["updateType"], p["listVersion"], len(p["localAuthorizationList"])) for p in payloads
    ] == [
        ("Full", 4, 2),
        ("Differential", 5, 2),
        ("Differential", 6, 1),
    ]


def test_an_empty_full_update_clears_the_list_and_an_empty_differential_sends_nothing():
    assert messages(
        OcppVersion.V201, UpdateType.FULL, [], first_version=2, max_items=5, max_bytes=None
    ) == [{"versionNumber": 2, "updateType": "Full"}]
    assert (
        messages(
            OcppVersion.V16,
            UpdateType.DIFFERENTIAL,
            [],
            first_version=2,
            max_items=5,
            max_bytes=None,
        )
        == []
    )


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"), [(0, 0, 1), (3, 7, 8), (5, None, 6), (5, 2, 6)]
)
def test_the_next_version_is_above_ours_and_the_stations(ours, theirs, expected):
    assert next_version(ours, theirs) == expected
