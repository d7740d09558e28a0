import base64

import pytest

from ocpi.auth import TokenEncoding, authorization_header, is_valid_token, token_candidates


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def test_header_is_base64_by_default_and_for_auto():
    assert authorization_header("abc-123") == f"Token {b64('abc-123')}"
    assert authorization_header("abc-123", TokenEncoding.AUTO) == f"Token {b64('abc-123')}"


def test_plain_header_for_peers_that_do_not_encode():
    assert authorization_header("abc-123", TokenEncoding.PLAIN) == "Token abc-123"


def test_base64_header_yields_the_decoded_token():
    # "abc-123" is not itself valid Base64 (length), so only the decoded form is a candidate.
    candidates = token_candidates(f"Token {b64('abc-123')}")
    assert candidates[TokenEncoding.BASE64] == "abc-123"


def test_plain_header_yields_the_raw_token():
    assert token_candidates("Token ebf3b399-779f-4497-9b9d-ac6ad3cc44d2") == {
        TokenEncoding.PLAIN: "ebf3b399-779f-4497-9b9d-ac6ad3cc44d2"
    }


def test_ambiguous_value_yields_both_readings():
    # "abcd" is a plausible plain token and also valid Base64 of three bytes "i\xb7\x1d" (not
    # UTF-8 printable), so only plain survives; "YWJj" is Base64 of "abc" and a valid token too.
    assert token_candidates("Token YWJj") == {
        TokenEncoding.BASE64: "abc",
        TokenEncoding.PLAIN: "YWJj",
    }
    assert token_candidates("Token abcd") == {TokenEncoding.PLAIN: "abcd"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Token", "Token ", "Bearer abc", "Basic YWJj", "token-without-scheme"],
)
def test_missing_or_malformed_headers_yield_nothing(header):
    assert token_candidates(header) == {}


def test_scheme_is_case_insensitive():
    assert token_candidates("token YWJj")[TokenEncoding.BASE64] == "abc"


@pytest.mark.parametrize(
    ("token", "valid"),
    [
        ("a", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("has space", False),
        ("tab\t", False),
        ("ümlaut", False),
        ("final-line-break\n", False),  # "$" in a regex matches before a final line break
    ],
)
def test_token_validity(token, valid):
    assert is_valid_token(token) is valid


def test_base64_of_a_token_with_a_line_break_is_no_token():
    # The spec's own example "ZXhhbXBsZS10b2tlbgo=" decodes to "example-token\n".
    assert token_candidates("Token ZXhhbXBsZS10b2tlbgo=") == {
        TokenEncoding.PLAIN: "ZXhhbXBsZS10b2tlbgo="
    }
