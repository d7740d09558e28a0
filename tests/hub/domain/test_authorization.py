"""One test per cell of the whitelist matrix (README "Who may charge: the whitelist rule")."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.domain.authorization import (
    REMOTE_START_GRACE,
    Ask,
    AuthMethod,
    Decision,
    DecisionPath,
    KnownToken,
    NoVerdict,
    conclude,
    is_recent_remote_start,
    plan,
)
from hub.domain.tokens import AllowedType, TokenKey, TokenType, WhitelistType

ALWAYS, ALLOWED_WL, OFFLINE, NEVER = (
    WhitelistType.ALWAYS,
    WhitelistType.ALLOWED,
    WhitelistType.ALLOWED_OFFLINE,
    WhitelistType.NEVER,
)
ALLOWED, BLOCKED, NOT_ALLOWED = AllowedType.ALLOWED, AllowedType.BLOCKED, AllowedType.NOT_ALLOWED
LOCAL, REAL_TIME, FALLBACK, COMMAND = (
    DecisionPath.LOCAL,
    DecisionPath.REAL_TIME,
    DecisionPath.OFFLINE_FALLBACK,
    DecisionPath.COMMAND,
)
WHITELIST, AUTH_REQUEST = AuthMethod.WHITELIST, AuthMethod.AUTH_REQUEST

ANSWERS = {
    "allowed": AllowedType.ALLOWED,
    "blocked": AllowedType.BLOCKED,
    "expired": AllowedType.EXPIRED,
    "no_credit": AllowedType.NO_CREDIT,
    "not_allowed": AllowedType.NOT_ALLOWED,
    "unknown": NoVerdict.UNKNOWN_TOKEN,
    "2002": NoVerdict.NOT_ENOUGH_INFORMATION,
    "unreachable": NoVerdict.UNREACHABLE,
    "timeout": NoVerdict.TIMEOUT,
}
WHITELIST_TYPES = (TokenType.RFID, TokenType.OTHER)
APP_TYPES = (TokenType.AD_HOC_USER, TokenType.APP_USER)


def stored(whitelist, valid, token_type=TokenType.RFID):
    key = TokenKey("US", "EMS", "04A1B2C3D4E5F6", token_type)
    return KnownToken(key=key, whitelist=whitelist, valid=valid)


def outcome(decision: Decision):
    return decision.allowed, decision.path, decision.auth_method, decision.unknown_token


# --- rows where we decide alone ----------------------------------------------------------------

LOCAL_ROWS = [
    (ALWAYS, True, ALLOWED),
    (ALWAYS, False, BLOCKED),
    (ALLOWED_WL, True, ALLOWED),
]


@pytest.mark.parametrize("token_type", WHITELIST_TYPES)
@pytest.mark.parametrize(("whitelist", "valid", "expected"), LOCAL_ROWS)
def test_decided_locally_without_asking(whitelist, valid, expected, token_type):
    chosen = plan(stored(whitelist, valid, token_type), token_type=token_type)
    assert chosen.ask is Ask.NOBODY
    assert not chosen.needs_answer
    assert outcome(conclude(chosen, None)) == (expected, LOCAL, WHITELIST, False)


# --- rows where the token's eMSP is asked ------------------------------------------------------

# (whitelist, valid, what the whitelist rule says when the eMSP cannot answer)
ASKED_ROWS = [
    (ALLOWED_WL, False, BLOCKED),
    (OFFLINE, True, ALLOWED),
    (OFFLINE, False, BLOCKED),
    (NEVER, True, None),
    (NEVER, False, None),
]


def _asked_cells():
    for whitelist, valid, fallback in ASKED_ROWS:
        for token_type in WHITELIST_TYPES:
            for name, answer in ANSWERS.items():
                if isinstance(answer, AllowedType):
                    expected = (answer, REAL_TIME, AUTH_REQUEST, False)
                elif answer is NoVerdict.UNKNOWN_TOKEN:
                    expected = (None, REAL_TIME, AUTH_REQUEST, True)
                elif answer is NoVerdict.NOT_ENOUGH_INFORMATION:
                    expected = (NOT_ALLOWED, REAL_TIME, AUTH_REQUEST, False)
                else:
                    expected = (fallback, FALLBACK, WHITELIST, False)
                cell_id = f"{whitelist}-{'valid' if valid else 'invalid'}-{token_type}-{name}"
                yield pytest.param(whitelist, valid, token_type, answer, expected, id=cell_id)


@pytest.mark.parametrize(
    ("whitelist", "valid", "token_type", "answer", "expected"), list(_asked_cells())
)
def test_asked_of_the_issuer(whitelist, valid, token_type, answer, expected):
    chosen = plan(stored(whitelist, valid, token_type), token_type=token_type)
    assert chosen.ask is Ask.ISSUER
    assert outcome(conclude(chosen, answer)) == expected


@pytest.mark.parametrize("whitelist", [OFFLINE, NEVER])
def test_valid_false_does_not_short_circuit_a_required_real_time_check(whitelist):
    chosen = plan(stored(whitelist, valid=False), token_type=TokenType.RFID)
    assert chosen.ask is Ask.ISSUER
    assert conclude(chosen, AllowedType.ALLOWED).accepted


# --- AD_HOC_USER / APP_USER: never real-time ---------------------------------------------------


@pytest.mark.parametrize("token_type", APP_TYPES)
@pytest.mark.parametrize("valid", [True, False])
@pytest.mark.parametrize("whitelist", list(WhitelistType))
def test_app_and_ad_hoc_tokens_are_decided_from_our_copy(whitelist, valid, token_type):
    chosen = plan(stored(whitelist, valid, token_type), token_type=token_type)
    assert chosen.ask is Ask.NOBODY
    expected = ALLOWED if valid else BLOCKED
    assert outcome(conclude(chosen, None)) == (expected, LOCAL, WHITELIST, False)


@pytest.mark.parametrize("token_type", APP_TYPES)
def test_unstored_app_and_ad_hoc_tokens_are_unknown_and_never_broadcast(token_type):
    chosen = plan(None, token_type=token_type)
    assert chosen.ask is Ask.NOBODY
    assert outcome(conclude(chosen, None)) == (None, LOCAL, WHITELIST, True)


# --- within 15 minutes of a START_SESSION / RESERVE_NOW for the token at this EVSE --------------


def _remote_start_cells():
    for token_type in (*WHITELIST_TYPES, *APP_TYPES):
        yield pytest.param(None, token_type, id=f"not-stored-{token_type}")
        for whitelist in WhitelistType:
            for valid in (True, False):
                cell_id = f"{whitelist}-{'valid' if valid else 'invalid'}-{token_type}"
                yield pytest.param(stored(whitelist, valid, token_type), token_type, id=cell_id)


@pytest.mark.parametrize(("token", "token_type"), list(_remote_start_cells()))
def test_recent_remote_start_is_allowed_without_real_time_authorization(token, token_type):
    chosen = plan(token, token_type=token_type, recent_remote_start=True)
    assert chosen.ask is Ask.NOBODY
    decision = conclude(chosen, None)
    assert outcome(decision) == (ALLOWED, COMMAND, AuthMethod.COMMAND, False)


def test_remote_start_grace_is_fifteen_minutes_inclusive():
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert timedelta(minutes=15) == REMOTE_START_GRACE
    assert is_recent_remote_start(at, at)
    assert is_recent_remote_start(at, at + REMOTE_START_GRACE)
    assert not is_recent_remote_start(at, at + REMOTE_START_GRACE + timedelta(seconds=1))
    assert not is_recent_remote_start(at, at - timedelta(seconds=1))


# --- tokens no partner pushed -----------------------------------------------------------------


def _unknown_cells():
    for name, answer in ANSWERS.items():
        if isinstance(answer, AllowedType):
            expected = (answer, REAL_TIME, AUTH_REQUEST, False)
        elif answer is NoVerdict.UNKNOWN_TOKEN:
            expected = (None, REAL_TIME, AUTH_REQUEST, True)
        elif answer is NoVerdict.NOT_ENOUGH_INFORMATION:
            expected = (NOT_ALLOWED, REAL_TIME, AUTH_REQUEST, False)
        else:
            expected = (None, FALLBACK, WHITELIST, True)
        yield pytest.param(answer, expected, id=name)


@pytest.mark.parametrize(("answer", "expected"), list(_unknown_cells()))
def test_unknown_rfid_is_asked_of_every_emsp(answer, expected):
    chosen = plan(None, token_type=TokenType.RFID)
    assert chosen.ask is Ask.EVERY_EMSP
    assert outcome(conclude(chosen, answer)) == expected


@pytest.mark.parametrize(("answer", "expected"), list(_unknown_cells()))
def test_unstored_token_with_a_known_issuer_is_asked_of_that_issuer(answer, expected):
    chosen = plan(None, token_type=TokenType.OTHER, issuer_known=True)
    assert chosen.ask is Ask.ISSUER
    assert outcome(conclude(chosen, answer)) == expected


def test_unknown_rfid_with_the_broadcast_off_is_refused_locally():
    chosen = plan(None, token_type=TokenType.RFID, broadcast_unknown=False)
    assert chosen.ask is Ask.NOBODY
    assert outcome(conclude(chosen, None)) == (None, LOCAL, WHITELIST, True)


def test_unknown_other_token_is_never_broadcast():
    chosen = plan(None, token_type=TokenType.OTHER)
    assert chosen.ask is Ask.NOBODY
    assert outcome(conclude(chosen, None)) == (None, LOCAL, WHITELIST, True)


# --- contract of the two steps ----------------------------------------------------------------


def test_conclude_refuses_an_answer_nobody_was_asked_for():
    with pytest.raises(ValueError, match="nobody was to be asked"):
        conclude(plan(stored(ALWAYS, True), token_type=TokenType.RFID), AllowedType.BLOCKED)


def test_conclude_needs_an_answer_when_the_plan_asks():
    with pytest.raises(ValueError, match="an answer"):
        conclude(plan(stored(NEVER, True), token_type=TokenType.RFID), None)


def test_plan_refuses_a_stored_token_of_another_type():
    with pytest.raises(ValueError, match="presented"):
        plan(stored(ALWAYS, True, TokenType.RFID), token_type=TokenType.APP_USER)


def test_a_cached_decision_keeps_its_verdict_and_auth_method():
    chosen = plan(None, token_type=TokenType.RFID)
    cached = conclude(chosen, AllowedType.ALLOWED).from_cache()
    assert outcome(cached) == (ALLOWED, DecisionPath.CACHE, AUTH_REQUEST, False)
    assert cached.reason.startswith("cached: ")


# --- the README table says the same ------------------------------------------------------------

README = Path(__file__).resolve().parents[3] / "README.md"
_README_CELL = {
    "the verdict": "verdict",
    "refused (unknown)": (None, True),
    "refused": (None, False),
    "NOT_ALLOWED": (NOT_ALLOWED, False),
    "ALLOWED": (ALLOWED, False),
    "BLOCKED (our copy)": (BLOCKED, False),
}


def _readme_whitelist_rows():
    section = README.read_text().split("### Who may charge: the whitelist rule", 1)[1]
    for line in section.split("\n### ", 1)[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells and cells[0] in WhitelistType.__members__:
            yield cells


@pytest.mark.parametrize("row", list(_readme_whitelist_rows()), ids=lambda row: "-".join(row[:2]))
def test_the_readme_table_row_is_what_the_code_does(row):
    whitelist, valid_text, ask, verdict, unknown, not_enough, offline = row
    for valid in {"true": [True], "false": [False], "true or false": [True, False]}[valid_text]:
        chosen = plan(stored(WhitelistType(whitelist), valid), token_type=TokenType.RFID)
        if ask == "nobody":
            allowed = AllowedType(offline.split(",")[0])
            assert outcome(conclude(chosen, None)) == (allowed, LOCAL, WHITELIST, False)
            continue
        assert chosen.ask is Ask.ISSUER
        assert _README_CELL[verdict] == "verdict"
        for text, answer in (
            (unknown, NoVerdict.UNKNOWN_TOKEN),
            (not_enough, NoVerdict.NOT_ENOUGH_INFORMATION),
            (offline, NoVerdict.UNREACHABLE),
        ):
            decision = conclude(chosen, answer)
            assert (decision.allowed, decision.unknown_token) == _README_CELL[text]
