"""Unit tests of the partner client against respx mocks (the end-to-end tests use real servers)."""

import base64
import json

import httpx
import pytest
import respx

from ocpi.auth import TokenEncoding
from ocpi.errors import PartnerHttpError, PartnerProtocolError, PartnerRejected, PartnerUnreachable
from ocpi.types import OcpiModel
from ocpi.v221.client import PartnerClient
from ocpi.v221.models.credentials import Credentials

BASE = "https://emsp.example/ocpi"
TS = "2026-11-24T12:00:00Z"


def ok(data=None, headers=None):
    body = {"status_code": 1000, "timestamp": TS}
    if data is not None:
        body["data"] = data
    return httpx.Response(200, json=body, headers=headers)


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


@respx.mock
async def test_version_discovery_sends_base64_token_and_message_ids(http):
    route = respx.get(f"{BASE}/versions").mock(
        return_value=ok(
            [
                {"version": "2.1.1", "url": f"{BASE}/2.1.1"},
                {"version": "2.2.1", "url": f"{BASE}/2.2.1"},
            ]
        )
    )
    versions = await PartnerClient(http, token="tok-1").get_versions(f"{BASE}/versions")
    assert [v.version for v in versions] == ["2.1.1", "2.2.1"]
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Token {b64('tok-1')}"
    assert request.headers["X-Request-ID"]
    assert request.headers["X-Correlation-ID"]


@respx.mock
async def test_version_details(http):
    respx.get(f"{BASE}/2.2.1").mock(
        return_value=ok(
            {
                "version": "2.2.1",
                "endpoints": [
                    {
                        "identifier": "credentials",
                        "role": "RECEIVER",
                        "url": f"{BASE}/2.2.1/credentials",
                    },
                    {
                        "identifier": "locations",
                        "role": "RECEIVER",
                        "url": f"{BASE}/2.2.1/locations",
                    },
                ],
            }
        )
    )
    details = await PartnerClient(http, token="t").get_version_details(f"{BASE}/2.2.1")
    assert [e.identifier for e in details.endpoints] == ["credentials", "locations"]


@respx.mock
async def test_auto_encoding_falls_back_to_plain_and_remembers(http):
    def plain_only(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Token tok-1":
            return ok([])
        return httpx.Response(401, json={"status_code": 2000, "timestamp": TS})

    route = respx.get(f"{BASE}/versions").mock(side_effect=plain_only)
    client = PartnerClient(http, token="tok-1", encoding=TokenEncoding.AUTO)
    await client.get_versions(f"{BASE}/versions")
    assert client.encoding is TokenEncoding.PLAIN
    await client.get_versions(f"{BASE}/versions")
    # Base64, then plain, then plain straight away.
    sent = [call.request.headers["Authorization"] for call in route.calls]
    assert sent == [f"Token {b64('tok-1')}", "Token tok-1", "Token tok-1"]


@respx.mock
async def test_fixed_plain_encoding_never_sends_base64(http):
    route = respx.get(f"{BASE}/versions").mock(return_value=ok([]))
    await PartnerClient(http, token="tok-1", encoding=TokenEncoding.PLAIN).get_versions(
        f"{BASE}/versions"
    )
    assert route.calls.last.request.headers["Authorization"] == "Token tok-1"


@respx.mock
async def test_credentials_post_sends_our_object_and_parses_theirs(http):
    theirs = {
        "token": "token-c",
        "url": f"{BASE}/versions",
        "roles": [
            {
                "role": "EMSP",
                "party_id": "EMS",
                "country_code": "US",
                "business_details": {"name": "Example eMSP"},
            }
        ],
    }
    route = respx.post(f"{BASE}/2.2.1/credentials").mock(return_value=ok(theirs))
    ours = Credentials.model_validate(
        {
            "token": "token-b",
            "url": "https://hub.example/ocpi/versions",
            "roles": [
                {
                    "role": "CPO",
                    "party_id": "HPC",
                    "country_code": "US",
                    "business_details": {"name": "Our network"},
                }
            ],
        }
    )
    result = await PartnerClient(http, token="token-a").post_credentials(
        f"{BASE}/2.2.1/credentials", ours
    )
    assert result.token == "token-c"
    sent = json.loads(route.calls.last.request.content)
    assert sent["token"] == "token-b"
    assert sent["roles"][0]["party_id"] == "HPC"
    assert route.calls.last.request.headers["Content-Type"] == "application/json"


@respx.mock
async def test_rejected_envelope_raises_with_partner_code(http):
    respx.delete(f"{BASE}/2.2.1/credentials").mock(
        return_value=httpx.Response(
            200, json={"status_code": 3001, "status_message": "nope", "timestamp": TS}
        )
    )
    with pytest.raises(PartnerRejected) as caught:
        await PartnerClient(http, token="t").delete_credentials(f"{BASE}/2.2.1/credentials")
    assert caught.value.partner_status_code == 3001
    assert "nope" in caught.value.message


@respx.mock
async def test_http_error_raises_with_status(http):
    respx.post(f"{BASE}/2.2.1/credentials").mock(
        return_value=httpx.Response(
            405, json={"status_code": 2000, "status_message": "registered", "timestamp": TS}
        )
    )
    ours = Credentials.model_validate(
        {
            "token": "b",
            "url": "https://h/versions",
            "roles": [
                {
                    "role": "CPO",
                    "party_id": "HPC",
                    "country_code": "US",
                    "business_details": {"name": "n"},
                }
            ],
        }
    )
    with pytest.raises(PartnerHttpError) as caught:
        await PartnerClient(http, token="t", encoding=TokenEncoding.BASE64).post_credentials(
            f"{BASE}/2.2.1/credentials", ours
        )
    assert caught.value.response_status == 405
    assert "registered" in caught.value.message


@respx.mock
async def test_non_envelope_body_is_a_protocol_error(http):
    respx.get(f"{BASE}/versions").mock(return_value=httpx.Response(200, text="<html>hi</html>"))
    with pytest.raises(PartnerProtocolError):
        await PartnerClient(http, token="t").get_versions(f"{BASE}/versions")


@respx.mock
async def test_invalid_data_is_a_protocol_error(http):
    respx.get(f"{BASE}/versions").mock(return_value=ok([{"version": "2.2.1"}]))  # no url
    with pytest.raises(PartnerProtocolError, match="url"):
        await PartnerClient(http, token="t").get_versions(f"{BASE}/versions")


@respx.mock
async def test_transport_failure_is_unreachable(http):
    respx.get(f"{BASE}/versions").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(PartnerUnreachable):
        await PartnerClient(http, token="t").get_versions(f"{BASE}/versions")


@respx.mock
@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "connection failed ([Errno 111] "),
        (httpx.ConnectTimeout(""), "no connection within the timeout"),
        (httpx.ReadTimeout(""), "no answer within the timeout"),
        (httpx.RemoteProtocolError("Server disconnected"), "the connection broke off"),
    ],
)
async def test_transport_failures_are_described_in_words(http, failure, words):
    respx.get(f"{BASE}/versions").mock(side_effect=failure)
    with pytest.raises(PartnerUnreachable) as caught:
        await PartnerClient(http, token="t").get_versions(f"{BASE}/versions")
    assert caught.value.message.startswith(f"GET {BASE}/versions: {words}")
    assert type(failure).__name__ not in caught.value.message  # was "ConnectError('refused')"


async def test_an_invalid_url_from_a_peer_is_unreachable_not_an_escaping_error(http):
    # A credentials url is any string(255); httpx.InvalidURL is not an httpx.HTTPError.
    with pytest.raises(PartnerUnreachable) as caught:
        await PartnerClient(http, token="t").get_versions("http://[::1/versions")
    assert "the URL is not valid" in caught.value.message


@respx.mock
async def test_invalid_data_is_described_without_library_wording(http):
    respx.get(f"{BASE}/versions").mock(return_value=ok([{"version": "2.2.1", "url": 5}, {}]))
    with pytest.raises(PartnerProtocolError) as caught:
        await PartnerClient(http, token="t").get_versions(f"{BASE}/versions")
    message = caught.value.message
    assert message == (
        f"{BASE}/versions: Invalid response data: [0].url must be a string; "
        "[1].version is required; [1].url is required"
    )
    for internal in ("validation error", "pydantic", "list[", "Version", "input_value"):
        assert internal not in message


class Item(OcpiModel):
    id: str


@respx.mock
async def test_pull_follows_link_headers_until_the_last_page(http):
    url = f"{BASE}/2.2.1/tokens"
    page2 = f"{url}?date_from=2026-01-01T00%3A00%3A00Z&offset=2&limit=2"
    page3 = f"{url}?date_from=2026-01-01T00%3A00%3A00Z&offset=4&limit=2"

    def pages(request: httpx.Request) -> httpx.Response:
        offset = request.url.params.get("offset", "0")
        if offset == "0":
            assert request.url.params["date_from"] == "2026-01-01T00:00:00Z"
            return ok([{"id": "1"}, {"id": "2"}], {"Link": f'<{page2}>; rel="next"'})
        if offset == "2":
            return ok([{"id": "3"}, {"id": "4"}], {"Link": f'<{page3}>; rel="next"'})
        return ok([{"id": "5"}])

    route = respx.get(url).mock(side_effect=pages)
    client = PartnerClient(http, token="t", correlation_id="corr-1")
    items = [
        item.id
        async for item in client.pull(
            url, Item, params={"date_from": "2026-01-01T00:00:00Z", "limit": "2"}
        )
    ]
    assert items == ["1", "2", "3", "4", "5"]
    assert route.call_count == 3
    assert {c.request.headers["X-Correlation-ID"] for c in route.calls} == {"corr-1"}
    assert len({c.request.headers["X-Request-ID"] for c in route.calls}) == 3


@respx.mock
async def test_pull_pages_reports_each_page_its_bad_objects_and_the_next_url(http):
    url = f"{BASE}/2.2.1/tokens"
    page2 = f"{url}?offset=2&limit=2"

    def pages(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("offset") == "2":
            return ok([{"id": "3"}], {"X-Total-Count": "3"})
        link = {"Link": f'<{page2}>; rel="next"', "X-Total-Count": "3"}
        return ok([{"id": "1"}, {"nope": True}], link)

    respx.get(url).mock(side_effect=pages)
    client = PartnerClient(http, token="t")
    pages_seen = [page async for page in client.pull_pages(f"{url}?limit=2", Item)]
    first, second = pages_seen
    assert [item.id for item in first.items] == ["1"]
    assert first.invalid == ["Invalid object [1]: id is required"]
    assert (first.url, first.next_url, first.total) == (f"{url}?limit=2", page2, 3)
    assert ([item.id for item in second.items], second.next_url) == (["3"], None)


@respx.mock
async def test_pull_pages_refuses_data_that_is_not_a_list(http):
    url = f"{BASE}/2.2.1/tokens"
    respx.get(url).mock(return_value=ok({"id": "1"}, {"X-Total-Count": "many"}))
    with pytest.raises(PartnerProtocolError, match="must be a list"):
        async for _ in PartnerClient(http, token="t").pull_pages(url, Item):
            pass


def _versions_answering_plain_with(plain_answer: httpx.Response):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Token wrong-token":
            return plain_answer
        return httpx.Response(
            401, json={"status_code": 2000, "status_message": "Unknown token", "timestamp": TS}
        )

    return respx.get(f"{BASE}/versions").mock(side_effect=answer)


@respx.mock
@pytest.mark.parametrize(
    ("plain_answer", "plain_got"),
    [
        (
            httpx.Response(
                500,
                json={
                    "status_code": 3000,
                    "status_message": "Generic server error",
                    "timestamp": TS,
                },
            ),
            "HTTP 500, OCPI 3000 Generic server error",
        ),
        (
            httpx.Response(200, json={"status_code": 3000, "timestamp": TS}),
            "HTTP 200, OCPI 3000",
        ),
        (httpx.Response(502, text="Bad gateway"), "HTTP 502"),
        (
            httpx.Response(401, json={"status_code": 2000, "timestamp": TS}),
            "HTTP 401 too",
        ),
    ],
    ids=["500-3000", "200-3000", "502-not-ocpi", "401-again"],
)
async def test_a_wrong_token_reports_the_401_and_both_attempts(http, plain_answer, plain_got):
    route = _versions_answering_plain_with(plain_answer)
    client = PartnerClient(http, token="wrong-token", encoding=TokenEncoding.AUTO)
    with pytest.raises(PartnerHttpError) as raised:
        await client.get_versions(f"{BASE}/versions")
    assert raised.value.response_status == 401
    assert raised.value.message == (
        f"GET {BASE}/versions answered HTTP 401: Unknown token (tried the token base64-encoded, "
        f"as OCPI 2.2.1 says, then plain; plain got: {plain_got})"
    )
    # Neither form worked: the next call tries both again.
    assert client.encoding is TokenEncoding.AUTO
    assert len(route.calls) == 2


@respx.mock
async def test_a_plain_retry_that_cannot_connect_reports_the_401(http):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Token wrong-token":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(401, json={"status_code": 2000, "timestamp": TS})

    respx.get(f"{BASE}/versions").mock(side_effect=answer)
    client = PartnerClient(http, token="wrong-token", encoding=TokenEncoding.AUTO)
    with pytest.raises(PartnerHttpError) as raised:
        await client.get_versions(f"{BASE}/versions")
    assert raised.value.response_status == 401
    assert "plain got: no answer (GET" in raised.value.message
    assert "connection failed (connection refused)" in raised.value.message


@respx.mock
async def test_a_plain_token_refused_for_another_reason_is_the_answer(http):
    # 2001 under HTTP 400: the plain token got past authentication, the request itself is bad.
    route = _versions_answering_plain_with(
        httpx.Response(
            400, json={"status_code": 2001, "status_message": "Bad filter", "timestamp": TS}
        )
    )
    client = PartnerClient(http, token="wrong-token", encoding=TokenEncoding.AUTO)
    with pytest.raises(PartnerHttpError) as raised:
        await client.get_versions(f"{BASE}/versions")
    assert raised.value.message == f"GET {BASE}/versions answered HTTP 400: Bad filter"
    assert client.encoding is TokenEncoding.PLAIN
    assert len(route.calls) == 2
