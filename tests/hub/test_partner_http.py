"""The HTTP client for partners (``hub.roaming.http``): HTTP/1.1 through aiohttp's pool, HTTP/2
where a TLS partner offers it. Every connection is kept alive: the requests a push worker sends
to a partner at once (30 here, above the 20 of httpx's and aiohttp's usual caps) reuse their
connections round after round. Failures of the HTTP/1.1 path read as httpx's own would."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from hub.config import OcpiSettings, Settings
from hub.roaming.http import PartnerTransport, partner_http_client
from ocpi.auth import TokenEncoding
from ocpi.errors import PartnerUnreachable
from ocpi.v221.client import PartnerClient
from tests.support.servers import asgi_server, free_port

AT_ONCE = 30


class Partner:
    """Answers once ``AT_ONCE`` requests are in (so they are truly concurrent); records the
    client port of each, i.e. the connection it came on."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.lock = threading.Lock()
        self.arrived: asyncio.Event | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if self.arrived is None:
            self.arrived = asyncio.Event()
        with self.lock:
            self.ports.append(scope["client"][1])
            if len(self.ports) % AT_ONCE == 0:
                self.arrived.set()
        await self.arrived.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def test_concurrent_requests_to_a_partner_reuse_their_connections() -> None:
    partner = Partner()
    with asgi_server(partner) as url:
        async with partner_http_client(Settings()) as client:
            for _ in range(3):
                partner.arrived = None
                answers = await asyncio.gather(*(client.get(f"{url}/x") for _ in range(AT_ONCE)))
                assert {a.status_code for a in answers} == {200}
    assert len(partner.ports) == 3 * AT_ONCE
    assert len(set(partner.ports)) == AT_ONCE  # every connection served every round


def tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A certificate authority and a certificate for 127.0.0.1 signed by it: (CA, cert, key)."""
    now = datetime.now(UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test partner CA"))
        .issuer_name(name("test partner CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class EnvelopePartner:
    """An OCPI endpoint that records the HTTP version of each request it is sent."""

    def __init__(self) -> None:
        self.versions: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        self.versions.append(scope["http_version"])
        body = json.dumps(
            {"status_code": 1000, "timestamp": "2026-12-03T00:00:00Z", "data": []}
        ).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def tls_partner(
    app, ca_dir: Path, protocols: tuple[str, ...] = ("h2", "http/1.1")
) -> Iterator[tuple[str, Path]]:
    """``app`` served over TLS by hypercorn (offering ``protocols`` by ALPN) in a thread;
    yields its base URL and the CA file its certificate chains to."""
    ca, cert, key = tls_files(ca_dir)
    port = free_port()
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = str(cert), str(key)
    config.alpn_protocols = list(protocols)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def run() -> None:
        started.set()
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    started.wait(10)
    wait_until_listening(port)
    try:
        yield f"https://127.0.0.1:{port}", ca
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


def wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


async def test_a_partner_offering_http2_is_called_over_http2_on_one_connection(tmp_path) -> None:
    partner = EnvelopePartner()
    with tls_partner(partner, tmp_path) as (url, ca):
        settings = Settings(ocpi=OcpiSettings(partner_ca_file=str(ca)))
        async with partner_http_client(settings) as http:
            client = PartnerClient(http, token="t", encoding=TokenEncoding.BASE64)
            calls = [client.call("GET", f"{url}/ocpi/2.2.1/tokens") for _ in range(10)]
            answers = await asyncio.gather(*calls)
    assert {response.http_version for _, response in answers} == {"HTTP/2"}
    assert partner.versions == ["2"] * 10


async def test_an_untrusted_partner_certificate_is_refused(tmp_path) -> None:
    with tls_partner(EnvelopePartner(), tmp_path) as (url, _):
        async with partner_http_client(Settings()) as http:
            client = PartnerClient(http, token="t", encoding=TokenEncoding.BASE64)
            with pytest.raises(PartnerUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
                await client.call("GET", f"{url}/ocpi/2.2.1/tokens")


async def test_a_tls_partner_without_http2_is_called_through_the_http1_pool(tmp_path) -> None:
    partner = EnvelopePartner()
    with tls_partner(partner, tmp_path, protocols=("http/1.1",)) as (url, ca):
        transport = PartnerTransport(str(ca))
        async with httpx.AsyncClient(transport=transport, timeout=10) as http:
            client = PartnerClient(http, token="t", encoding=TokenEncoding.BASE64)
            assert not transport.speaks_http1_only(url)
            await client.call("GET", f"{url}/ocpi/2.2.1/tokens")
            assert transport.speaks_http1_only(url)  # learnt from the first answer
            calls = [client.call("GET", f"{url}/ocpi/2.2.1/tokens") for _ in range(10)]
            answers = await asyncio.gather(*calls)
    assert {envelope.status_code for envelope, _ in answers} == {1000}
    assert partner.versions == ["1.1"] * 11


async def test_the_http1_pool_refuses_an_untrusted_certificate(tmp_path, monkeypatch) -> None:
    with tls_partner(EnvelopePartner(), tmp_path, protocols=("http/1.1",)) as (url, _):
        transport = PartnerTransport()
        monkeypatch.setattr(transport, "speaks_http1_only", lambda url: True)
        async with httpx.AsyncClient(transport=transport) as http:
            client = PartnerClient(http, token="t", encoding=TokenEncoding.BASE64)
            with pytest.raises(PartnerUnreachable, match=r"connection failed.*CERTIFICATE_VERIFY"):
                await client.call("GET", f"{url}/ocpi/2.2.1/tokens")


class Echo:
    """Answers every request with its method, path, query, headers and body, gzip-encoded."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body": body.decode(),
        }
        envelope = {"status_code": 1000, "timestamp": "2026-12-03T00:00:00Z", "data": seen}
        headers = [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": gzip.compress(json.dumps(envelope).encode())}
        )


async def test_a_call_over_http1_arrives_whole_and_its_answer_is_decoded() -> None:
    with asgi_server(Echo()) as url:
        async with partner_http_client(Settings()) as http:
            client = PartnerClient(http, token="secret", encoding=TokenEncoding.BASE64)
            envelope, response = await client.call(
                "PATCH", f"{url}/ocpi/2.2.1/locations/US/HPC/L1?x=1", body={"status": "BLOCKED"}
            )
    seen = envelope.data
    assert response.http_version == "HTTP/1.1"
    assert (seen["method"], seen["path"], seen["query"]) == (
        "PATCH",
        "/ocpi/2.2.1/locations/US/HPC/L1",
        "x=1",
    )
    assert json.loads(seen["body"]) == {"status": "BLOCKED"}
    headers = dict(seen["headers"])
    assert headers["authorization"] == "Token c2VjcmV0"
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(seen["body"]))
    assert "x-request-id" in headers
    assert "x-correlation-id" in headers


@contextlib.contextmanager
def raw_server(handle) -> Iterator[str]:
    """A TCP server in a thread calling ``handle(connection)`` for each connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)
            handle(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


def close_at_once(connection: socket.socket) -> None:
    connection.recv(65536)
    connection.close()


def answer_garbage(connection: socket.socket) -> None:
    connection.recv(65536)
    connection.sendall(b"this is not HTTP\r\n\r\n")


def never_answer(connection: socket.socket) -> None:
    pass  # held open by raw_server until the test ends


@pytest.mark.parametrize(
    ("handle", "words"),
    [
        (close_at_once, "the connection broke off or the answer was not valid HTTP"),
        (answer_garbage, "the connection broke off or the answer was not valid HTTP"),
        (never_answer, "no answer within the timeout"),
    ],
    ids=["closed", "not-http", "silent"],
)
async def test_http1_failures_read_as_httpx_words_them(handle, words) -> None:
    settings = Settings(ocpi=OcpiSettings(partner_timeout_seconds=0.3))
    with raw_server(handle) as url:
        async with partner_http_client(settings) as http:
            client = PartnerClient(http, token="t", encoding=TokenEncoding.BASE64)
            with pytest.raises(PartnerUnreachable, match=words):
                await client.call("PUT", f"{url}/ocpi/2.2.1/locations/US/HPC/L1", body={})


async def test_a_partner_that_is_not_listening_is_a_failed_connection() -> None:
    async with partner_http_client(Settings()) as http:
        client = PartnerClient(http, token="t", encoding=TokenEncoding.BASE64)
        with pytest.raises(PartnerUnreachable, match="connection failed"):
            await client.call("GET", f"http://127.0.0.1:{free_port()}/ocpi/2.2.1/tokens")
