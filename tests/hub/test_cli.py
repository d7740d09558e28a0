"""The operator CLI in-process (typer's runner) against real migrated databases."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import cli_in_process

pytestmark = pytest.mark.db


@pytest.fixture
def hub(database_url, monkeypatch):
    with cli_in_process(
        monkeypatch, HUB_DATABASE__URL=database_url, HUB_OCPI__PUBLIC_URL="https://ocpi.example.net"
    ) as invoke:
        yield invoke


def as_json(result):
    return json.loads(result.stdout)


def test_parties_add_and_list(hub):
    added = as_json(hub("parties", "add", "us", "hpc", "--name", "HPC US", "--json"))
    assert (added["country_code"], added["party_id"], added["role"]) == ("US", "HPC", "CPO")
    hub("parties", "add", "CA", "HPC", "--name", "HPC Canada", "--website", "https://hpc.ca")
    listed = as_json(hub("parties", "list", "--json"))
    assert [(p["country_code"], p["name"]) for p in listed] == [
        ("CA", "HPC Canada"),
        ("US", "HPC US"),
    ]
    table = hub("parties", "list").stdout
    assert "HPC Canada" in table
    assert "https://hpc.ca" in table


def test_duplicate_party_is_an_error(hub):
    hub("parties", "add", "US", "HPC", "--name", "one")
    result = hub("parties", "add", "US", "HPC", "--name", "two", expect=1)
    assert "already exists" in result.stderr


@pytest.mark.parametrize(("country", "party"), [("USA", "HPC"), ("U1", "HPC"), ("US", "HP")])
def test_invalid_party_ids_are_refused(hub, country, party):
    result = hub("parties", "add", country, party, "--name", "x", expect=2)
    assert "must be" in result.output


def test_invite_list_show_and_remove(hub):
    invited = as_json(hub("partners", "invite", "acme", "--party", "US*ACM", "--json"))
    assert invited["versions_url"] == "https://ocpi.example.net/ocpi/versions"
    assert len(invited["token_a"]) >= 32
    listed = as_json(hub("partners", "list", "--json"))
    assert [(p["name"], p["status"]) for p in listed] == [("acme", "INVITED")]
    shown = as_json(hub("partners", "show", "acme", "--json"))
    assert shown["roles"] == []
    assert "acme" in hub("partners", "list").stdout
    removed = as_json(hub("partners", "remove", "acme", "--json"))
    assert removed["status"] == "UNREGISTERED"


def test_commands_on_unknown_or_unregistered_partners_fail_cleanly(hub):
    assert "no partner named" in hub("partners", "show", "ghost", expect=1).stderr
    hub("partners", "invite", "acme", "--party", "US*ACM")
    assert "cannot suspend" in hub("partners", "suspend", "acme", expect=1).stderr
    assert "cannot rotate" in hub("partners", "rotate", "acme", expect=1).stderr


def test_reinviting_gives_a_new_token(hub):
    first = as_json(hub("partners", "invite", "acme", "--party", "US*ACM", "--json"))["token_a"]
    refused = hub("partners", "invite", "acme", "--party", "US*ACM", "--json", expect=1)
    assert "--reissue" in refused.stderr
    second = as_json(hub("partners", "invite", "acme", "--party", "US*ACM", "--reissue", "--json"))[
        "token_a"
    ]
    assert first != second


def test_register_with_unreachable_partner_fails_and_keeps_nothing(hub):
    result = hub(
        "partners",
        "register",
        "http://127.0.0.1:9/ocpi/versions",
        "token-a",
        "--name",
        "nobody",
        "--party",
        "US*NOB",
        expect=1,
    )
    assert "Could not use the partner's API" in result.stderr
    assert as_json(hub("partners", "list", "--json")) == []


def test_db_current_reports_head(hub):
    output = hub("db", "current").stdout
    database, head = output.split("(head:")
    assert head.strip(" )\n") in database
    reported = as_json(hub("db", "current", "--json"))
    assert reported["revision"] == reported["head"]
    assert reported["database"]
    assert as_json(hub("db", "upgrade", "--json")) == reported


def test_locations_and_tariffs_import_list_show_and_push_status(hub, tmp_path):
    from tests.fixtures import network

    hub("parties", "add", "US", "HPC", "--name", "HPC US")
    (tmp_path / "t.json").write_text(json.dumps([network.tariff()]))
    (tmp_path / "l.json").write_text(
        json.dumps([network.location("LOC1"), network.location("LOC2")])
    )
    assert as_json(hub("tariffs", "import", str(tmp_path / "t.json"), "--json"))["created"] == 1
    report = as_json(hub("locations", "import", str(tmp_path / "l.json"), "--json"))
    assert (report["created"], report["unchanged"]) == (2, 0)
    again = as_json(hub("locations", "import", str(tmp_path / "l.json"), "--json"))
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    listed = as_json(hub("locations", "list", "--json"))
    assert [(r["id"], r["evses"], r["statuses"]) for r in listed] == [
        ("LOC1", 2, {"AVAILABLE": 2}),
        ("LOC2", 2, {"AVAILABLE": 2}),
    ]
    changed = as_json(hub("locations", "set-status", "LOC1-E2", "OUTOFORDER", "--json"))
    assert changed["changed"] is True
    shown = as_json(hub("locations", "show", "LOC1", "--json"))
    assert [(e["uid"], e["status"]) for e in shown["evses"]] == [
        ("LOC1-E1", "AVAILABLE"),
        ("LOC1-E2", "OUTOFORDER"),
    ]
    assert "LOC1-E2" in hub("locations", "show", "LOC1").stdout
    assert as_json(hub("tariffs", "list", "--json"))[0]["id"] == "T-DC"
    hub("tariffs", "delete", "US*HPC", "T-DC")
    assert as_json(hub("tariffs", "list", "--json")) == []
    assert as_json(hub("push", "status", "--json")) == []


def test_bad_import_file_is_a_clear_error(hub, tmp_path):
    hub("parties", "add", "US", "HPC", "--name", "HPC US")
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "LOC1"}]))
    result = hub("locations", "import", str(tmp_path / "bad.json"), expect=1)
    assert "location #0 (LOC1)" in result.stderr
    assert "country_code" in result.stderr
    assert (
        "unknown-uid" in hub("locations", "set-status", "unknown-uid", "CHARGING", expect=1).stderr
    )


KEY_HEX = "00ff3a" + "ab" * 17


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password-hex", KEY_HEX[:-2]], "40 hexadecimal"),
        (["--password-hex", "zz" + KEY_HEX[2:]], "not hexadecimal"),
        (["--password-hex", KEY_HEX, "--password", "p" * 20], "not both"),
    ],
    ids=["short", "not-hex", "both"],
)
def test_chargers_add_refuses_a_bad_authorization_key(hub, args, message):
    result = hub("chargers", "add", "CS-1", *args, expect=2)
    assert message in result.output


def test_chargers_add_with_an_authorization_key(hub):
    added = as_json(hub("chargers", "add", "CS-1", "--password-hex", KEY_HEX.upper(), "--json"))
    assert added["password_hex"] == KEY_HEX
    assert "password" not in added
    listed = as_json(hub("chargers", "list", "--json"))
    assert [(s["station_id"], s["auth_failures"]) for s in listed] == [("CS-1", 0)]
