import pytest

from ocpi import errors


@pytest.mark.parametrize(
    ("error", "status_code", "http_status"),
    [
        (errors.OcpiClientSideError, 2000, 200),
        (errors.InvalidOrMissingParameters, 2001, 200),
        (errors.MalformedJson, 2001, 400),
        (errors.ChargingPreferencesNotSupported, 2001, 404),
        (errors.NotEnoughInformation, 2002, 200),
        (errors.UnknownLocation, 2003, 200),
        (errors.UnknownToken, 2004, 200),
        (errors.Unauthorized, 2000, 401),
        (errors.UnknownObject, 2000, 404),
        (errors.MethodNotAllowed, 2000, 405),
        (errors.PayloadTooLarge, 2000, 413),
        (errors.TooManyRequests, 2000, 429),
        (errors.OcpiServerSideError, 3000, 200),
        (errors.UnableToUseClientApi, 3001, 200),
        (errors.UnsupportedVersion, 3002, 200),
        (errors.NoMatchingEndpoints, 3003, 200),
        (errors.OcpiHubError, 4000, 200),
        (errors.UnknownReceiver, 4001, 200),
        (errors.ForwardedRequestTimeout, 4002, 200),
        (errors.ConnectionProblem, 4003, 200),
    ],
)
def test_every_status_code_has_an_exception(error, status_code, http_status):
    instance = error("why")
    assert instance.status_code == status_code
    assert instance.http_status == http_status
    assert instance.message == "why"
    assert isinstance(instance, errors.OcpiError)


def test_default_message_is_the_spec_description():
    assert errors.UnknownLocation().message
    assert errors.UnknownLocation().message != errors.UnknownToken().message


def test_families_follow_the_code_ranges():
    assert issubclass(errors.MalformedJson, errors.InvalidOrMissingParameters)
    assert issubclass(errors.NoMatchingEndpoints, errors.OcpiServerSideError)
    assert issubclass(errors.ConnectionProblem, errors.OcpiHubError)
    assert not issubclass(errors.PartnerRejected, errors.OcpiClientSideError)


def test_client_errors_carry_their_context():
    rejected = errors.PartnerRejected("no", url="http://x", partner_status_code=2001)
    assert rejected.partner_status_code == 2001
    assert rejected.url == "http://x"
    assert errors.PartnerHttpError("boom", url="http://x", http_status=503).response_status == 503


def test_quote_input_shortens_and_escapes_peer_input():
    assert errors.quote_input("LOC1") == "'LOC1'"
    assert errors.quote_input("LOC1\x00\n") == "'LOC1\\x00\\n'"
    quoted = errors.quote_input("9" * 5000)
    assert quoted == "'" + "9" * 40 + "...'"
