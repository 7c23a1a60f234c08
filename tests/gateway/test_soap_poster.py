"""The GGk transport's lean client does what httpx did: same request, same outcomes.

Real sockets on loopback: the mock GGk over plain http and over mutual TLS (a wrong OIN or
an unknown CA refused before a byte is sent: permanent), and small raw servers for what a
well-behaved mock never does - refuse, accept and stay silent, hang up after reading,
close a kept-alive connection between two sends. Each outcome is what the httpx path
gives for the same event (retryable when nothing was sent, unknown when it may have been).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from connectors.ggk import Systeem, new_referentienummer, soap_headers
from connectors.ggk.soap import render_bv03
from gateway.delivery.assembly import ggk_poster
from gateway.delivery.ggk_transport import GgkSoapTransport
from gateway.delivery.outcome import OutcomeKind
from gateway.delivery.soap_poster import SoapPoster
from gateway.runtime import Runtime
from tests.conftest import make_settings
from tests.gateway.test_tls_outbound import Pki, pki, received_refs, send_jw301, tls_mock_ggk
from tests.live_server import free_port
from tests.tls_certs import OIN_STRANGER

__all__ = ["pki"]  # the fixture, shared with test_tls_outbound

BV03 = render_bv03(Systeem("GGK", "GGk"), Systeem("0637", "Gateway"), new_referentienummer(), "ref-1")


def poster(url: str, context: object = None, send_timeout_s: float = 2.0) -> SoapPoster:
    return SoapPoster(url, context=context, connect_timeout_s=1.0, send_timeout_s=send_timeout_s)  # type: ignore[arg-type]


def read_request(connection: socket.socket) -> bytes:
    """One HTTP request with a Content-Length body, as it came over the wire."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def answer(connection: socket.socket, *, close: bool = False) -> None:
    headers = f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {len(BV03)}\r\n"
    connection.sendall((headers + ("Connection: close\r\n" if close else "") + "\r\n").encode() + BV03)


@contextmanager
def raw_server(serve: Callable[[socket.socket, list[bytes]], None]) -> Iterator[tuple[str, list[bytes]]]:
    """A one-thread server on loopback: ``serve(connection, requests)`` per accepted connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    requests: list[bytes] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                serve(connection, requests)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/ggk/soap?x=1", requests
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def keep_alive(connection: socket.socket, requests: list[bytes]) -> None:
    while request := read_request(connection):
        requests.append(request)
        answer(connection)


def test_the_request_on_the_wire_is_the_one_httpx_sent() -> None:
    """Method, target, body and the SOAP headers are the same; the framing headers are the client's own."""
    body = b"<soap:Envelope>bericht</soap:Envelope>"
    with raw_server(keep_alive) as (url, requests):
        with httpx.Client() as client:
            client.post(url, content=body, headers=soap_headers("ggk_Du01"))
        lean = poster(url)
        assert lean.post(body, soap_headers("ggk_Du01")) == (200, BV03)
        lean.close()

    def parsed(raw: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
        head, _, content = raw.partition(b"\r\n\r\n")
        line, *fields = head.split(b"\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (f.split(b":", 1) for f in fields)}
        return line, headers, content

    (httpx_line, httpx_headers, httpx_body), (lean_line, lean_headers, lean_body) = map(parsed, requests)
    assert lean_line == httpx_line == b"POST /ggk/soap?x=1 HTTP/1.1"
    assert lean_body == httpx_body == body
    for name in (b"content-type", b"soapaction", b"content-length", b"host"):
        assert lean_headers[name] == httpx_headers[name], name


def test_a_thread_keeps_its_connection_and_a_closed_one_is_replaced_before_sending() -> None:
    connections = []

    def one_answer_then_close(connection: socket.socket, requests: list[bytes]) -> None:
        connections.append(connection)
        requests.append(read_request(connection))
        answer(connection)  # keep-alive promised, then the server closes it while idle

    with raw_server(keep_alive) as (url, requests):
        lean = poster(url)
        for _ in range(3):
            assert lean.post(b"<x/>", soap_headers("ggk_Di01"))[0] == 200
        assert len(requests) == 3 and len(lean._open) == 1  # one connection for all three
        lean.close()
    with raw_server(one_answer_then_close) as (url, requests):
        transport = GgkSoapTransport(url, httpx.Client(), poster(url))
        for _ in range(3):
            outcome = transport.send(b"<x/>", after_unknown=False)
            assert outcome.kind is OutcomeKind.DELIVERED, outcome  # never "unknown" for a dead connection
        assert len(connections) == 3
        transport.close()


def test_nothing_listening_is_retryable_not_sent() -> None:
    url = f"http://127.0.0.1:{free_port()}/ggk/soap"
    outcome = GgkSoapTransport(url, httpx.Client(), poster(url)).send(b"<x/>", after_unknown=False)
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.detail == "not sent: ConnectionRefusedError"


@pytest.mark.parametrize(
    ("behaviour", "detail"),
    [("silent", "sent, no answer: TimeoutError"), ("hang_up", "sent, connection failed: RemoteDisconnected")],
)
def test_no_answer_after_sending_is_an_unknown_outcome(behaviour: str, detail: str) -> None:
    def serve(connection: socket.socket, requests: list[bytes]) -> None:
        requests.append(read_request(connection))
        if behaviour == "silent":
            connection.recv(1)  # until the client gives up and closes

    with raw_server(serve) as (url, requests):
        transport = GgkSoapTransport(url, httpx.Client(), poster(url, send_timeout_s=0.3))
        outcome = transport.send(b"<x/>", after_unknown=False)
        transport.close()
    assert requests, "the server received the request"
    assert outcome.kind is OutcomeKind.UNKNOWN
    assert outcome.detail == detail


def test_an_interim_answer_is_no_answer_not_the_final_one() -> None:
    """A 103 (or 102) before the real answer: http.client would take it as final (a 1xx
    "refusal" would park the message); it is an unknown outcome, as for a lost answer."""

    def early_hints(connection: socket.socket, requests: list[bytes]) -> None:
        requests.append(read_request(connection))
        connection.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n")
        answer(connection)

    with raw_server(early_hints) as (url, requests):
        transport = GgkSoapTransport(url, httpx.Client(), poster(url))
        outcome = transport.send(b"<x/>", after_unknown=False)
        transport.close()
    assert requests
    assert outcome.kind is OutcomeKind.UNKNOWN
    assert outcome.detail == "sent, connection failed: HTTPException"


def test_the_mock_ggk_over_mutual_tls_delivered_and_refused_before_sending(pki: Pki) -> None:
    with tls_mock_ggk(pki, pki.ggk) as url:
        outcome, ref = send_jw301(url, pki.our_tls(), lean=True)
        assert outcome.kind is OutcomeKind.DELIVERED, outcome
        assert ref in received_refs(url, pki)
    with tls_mock_ggk(pki, pki.ggk_wrong_oin) as url:
        outcome, ref = send_jw301(url, pki.our_tls(), lean=True)
        assert outcome.kind is OutcomeKind.PERMANENT
        assert outcome.detail is not None and "is not the configured" in outcome.detail
        assert ref not in received_refs(url, pki, server_oin=OIN_STRANGER)
    with tls_mock_ggk(pki, pki.ggk_rogue) as url:
        outcome, _ = send_jw301(url, pki.our_tls(), lean=True)
        assert outcome.kind is OutcomeKind.PERMANENT
        assert outcome.detail is not None and "server certificate refused" in outcome.detail


def test_the_worker_uses_it_only_where_it_does_what_httpx_would(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    def chosen(**overrides: object) -> SoapPoster | None:
        runtime = Runtime.create(make_settings(f"sqlite:///{tmp_path / 'g.db'}", tmp_path, **overrides))
        try:
            return ggk_poster(runtime)
        finally:
            runtime.close()

    assert chosen(ggk_url="http://ggk.example.test/ggk/soap") is not None
    assert chosen(ggk_url="https://ggk.example.test/ggk/soap", ggk_tls=pki.our_tls()) is not None
    assert chosen(ggk_url="https://ggk.example.test/ggk/soap") is None  # the system's trust store: httpx
    assert chosen(ggk_url="http://user:pw@ggk.example.test/ggk/soap") is None  # Basic auth: httpx
    monkeypatch.setenv("NO_PROXY", "ggk.example.test")  # no proxy at all: no difference
    assert chosen(ggk_url="http://ggk.example.test/ggk/soap") is not None
    monkeypatch.setenv("https_proxy", "http://proxy.example.test:3128")  # httpx reads NO_PROXY its way
    assert chosen(ggk_url="http://ggk.example.test/ggk/soap") is None
