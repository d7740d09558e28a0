import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.emaid import (
    Emaid,
    MalformedEmaid,
    check_character,
    is_valid_emaid,
    normalise,
    parse_emaid,
    parse_routing_prefix,
)

# shared/pnc/NOTES.md §1: agreed by independent implementations, plus the one computed value.
VECTORS = [
    ("NN123ABCDEFGHI", "T"),
    ("FRXYZ123456789", "2"),
    ("ITA1B2C3E4F5G6", "4"),
    ("ESZU8WOX834H1D", "R"),
    ("PT73902837ABCZ", "Z"),
    ("DE83DUIEN83QGZ", "D"),
    ("DE83DUIEN83ZGQ", "M"),
    ("DE8AA001234567", "0"),
    ("NLTNM012345678", "W"),
    ("USABCC12345678", "O"),
]


@pytest.mark.parametrize(("body", "check"), VECTORS)
def test_check_character_matches_the_published_vectors(body, check):
    assert check_character(body) == check


@pytest.mark.parametrize(("body", "check"), VECTORS)
def test_vectors_parse_with_their_check_character_in_any_case(body, check):
    emaid = parse_emaid((body + check).lower())
    assert emaid.normalised == body + check
    assert emaid.check == check


@pytest.mark.parametrize(("body", "check"), VECTORS)
def test_vectors_with_any_other_check_character_are_refused(body, check):
    for wrong in (c for c in string.digits + string.ascii_uppercase if c != check):
        with pytest.raises(MalformedEmaid, match="check character"):
            parse_emaid(body + wrong)


def test_the_emi3_example_is_valid_and_parsed_into_its_parts():
    emaid = parse_emaid("DE-8AA-CA2B3C4D5-L")
    assert emaid == Emaid(country_code="DE", provider_id="8AA", instance="CA2B3C4D5", check="L")
    assert emaid.routing_prefix == "DE-8AA"
    assert str(emaid) == "DE8AACA2B3C4D5L"


def test_us_example_with_x_is_invalid_and_with_o_valid():
    assert not is_valid_emaid("US-ABC-C12345678-X")
    assert is_valid_emaid("US-ABC-C12345678-O")
    assert parse_emaid("us*abc*c12345678*o").routing_prefix == "US-ABC"


def test_an_emaid_without_check_character_is_accepted_and_can_complete_itself():
    emaid = parse_emaid("nl-tnm-012345678")
    assert emaid.check is None
    assert emaid.normalised == "NLTNM012345678"
    assert emaid.with_check == "NLTNM012345678W"


def test_normalise_removes_separators_and_blanks_and_upper_cases():
    assert normalise(" us-abc*c12345678-o ") == "USABCC12345678O"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("US-ABC-C1234567", "has 13 letters and digits"),
        ("US-ABC-C12345678-O1", "has 16 letters and digits"),
        ("U1-ABC-C12345678", "country code"),
        ("US_ABC_C12345678", "only letters, digits"),
        ("US-ÄBC-C12345678", "only letters, digits"),
        ("US-ABC-C12345678-X", "check character is 'X' but the id computes to 'O'"),
    ],
)
def test_malformed_emaids_are_refused_with_a_reason_in_words(text, reason):
    with pytest.raises(MalformedEmaid) as refused:
        parse_emaid(text)
    assert reason in refused.value.reason
    assert not is_valid_emaid(text)


def test_check_character_refuses_a_body_of_the_wrong_length():
    with pytest.raises(MalformedEmaid, match="14 letters and digits"):
        check_character("USABC")


@pytest.mark.parametrize("text", ["US-ABC", "usabc", "US*ABC", " us-abc "])
def test_routing_prefix_is_written_in_one_form(text):
    assert parse_routing_prefix(text) == "US-ABC"


@pytest.mark.parametrize("text", ["USA-BC", "US-AB", "U1-ABC", "US-ABCD", ""])
def test_malformed_routing_prefixes_are_refused(text):
    with pytest.raises(MalformedEmaid, match="routing prefix"):
        parse_routing_prefix(text)


_ALNUM = string.digits + string.ascii_uppercase
bodies = st.builds(
    lambda country, rest: country + rest,
    st.text(string.ascii_uppercase, min_size=2, max_size=2),
    st.text(_ALNUM, min_size=12, max_size=12),
)


@given(bodies)
def test_every_body_with_its_computed_check_character_parses(body):
    assert parse_emaid(body + check_character(body)).body == body


@given(bodies, st.integers(0, 13), st.sampled_from(_ALNUM))
def test_a_single_changed_character_is_detected(body, position, replacement):
    changed = body[:position] + replacement + body[position + 1 :]
    if changed != body:
        assert check_character(changed) != check_character(body)


@given(bodies, st.integers(0, 12))
def test_an_adjacent_transposition_is_detected(body, position):
    swapped = body[:position] + body[position + 1] + body[position] + body[position + 2 :]
    if swapped != body:
        assert check_character(swapped) != check_character(body)
