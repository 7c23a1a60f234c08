"""``POST /ggk/soap`` on the lean lane (:class:`gateway.app.GatewayApp`) answers as the full stack.

Every test runs the same requests over real HTTP against two apps on one runtime: the app
as :func:`gateway.app.create_app` builds it (the lane in front) and the same app with the
lane switched off (``ggk_soap_lane = None``: the full FastAPI stack, the behaviour before
the lane) - and compares the answers. A counting spy on
:func:`gateway.api.inbound_ggk.serve_ggk_soap` shows which requests took the lane.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import structlog
import structlog.testing
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.requests import ClientDisconnect

from connectors.ggk import (
    Operation,
    Retourbericht,
    SoapAnswer,
    Systeem,
    new_referentienummer,
    parse_soap_response,
    render_du01,
    soap_headers,
    soap_request,
)
from gateway import tracing
from gateway.api import inbound_ggk
from gateway.app import GatewayApp, create_app
from gateway.delivery.worker import DeliveryWorker
from gateway.inbound.ggk_retours import SoapReply
from gateway.runtime import Runtime
from gateway.settings import OtelSettings
from gateway.tls.server import chain_listener_config
from tests.conftest import make_settings
from tests.gateway.test_tls_inbound import Pki, chain_settings, fo01_body
from tests.live_server import free_port, live_config, live_server
from tests.tls_certs import OIN_STRANGER

BSN = "999900006"


def du01_body() -> bytes:
    """A Du01 retour for a message the gateway never sent (answered with a Bv03 all the same)."""
    envelope = render_du01(
        Retourbericht(
            zender=Systeem("99990001", "MockAanbieder"),
            ontvanger=Systeem("0637", "GGk"),
            referentienummer=new_referentienummer(),
            cross_refnummer=new_referentienummer(),
            tijdstip=datetime.now(UTC).replace(tzinfo=None),
            functie="JW302",
            payload=b"<x/>",
        )
    )
    body, _ = soap_request(envelope, "ggk_Du01")
    return body


class Lane:
    """Counts the requests that reached the lane's endpoint."""

    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def lane(monkeypatch: pytest.MonkeyPatch) -> Lane:
    counter = Lane()
    original = inbound_ggk.serve_ggk_soap

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        counter.calls += 1
        await original(scope, receive, send)

    monkeypatch.setattr(inbound_ggk, "serve_ggk_soap", counting)
    return counter


class CountingWorker:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


@dataclass
class Pair:
    lean: str
    full: str
    full_app: GatewayApp

    def both(self) -> list[tuple[str, str]]:
        return [("lean", self.lean), ("full", self.full)]


def _apps(runtime: Runtime, worker: CountingWorker | None = None) -> tuple[GatewayApp, GatewayApp]:
    lean = create_app(runtime, cast(DeliveryWorker, worker))
    full = create_app(runtime, cast(DeliveryWorker, worker))
    assert isinstance(lean, GatewayApp) and isinstance(full, GatewayApp)
    assert lean.ggk_soap_lane is not None
    full.ggk_soap_lane = None  # the full stack: what every request took before the lane
    return lean, full


@contextmanager
def served(runtime: Runtime, worker: CountingWorker | None = None) -> Iterator[Pair]:
    # No lifespan: a worker given here is only woken, never run.
    lean, full = _apps(runtime, worker)
    with live_server(lean, lifespan="off") as lean_url, live_server(full, lifespan="off") as full_url:
        yield Pair(lean_url, full_url, full)


@pytest.fixture
def sqlite_runtime(tmp_path: Path, sqlite_template: Path) -> Iterator[Runtime]:
    shutil.copy(sqlite_template, tmp_path / "gateway.db")
    runtime = Runtime.create(make_settings(f"sqlite:///{tmp_path / 'gateway.db'}", tmp_path))
    yield runtime
    runtime.close()


def post(
    url: str, body: bytes | Iterator[bytes], operation: Operation = "ggk_Du01", **headers: str
) -> httpx.Response:
    return httpx.post(
        f"{url}/ggk/soap", content=body, headers={**soap_headers(operation), **headers}, timeout=10
    )


def answer(response: httpx.Response) -> SoapAnswer:
    return parse_soap_response(response.status_code, response.content)


def test_a_du01_is_processed_and_answered_the_same(runtime: Runtime, lane: Lane) -> None:
    """On SQLite and PostgreSQL: Bv03, the same headers, a request id."""
    with served(runtime) as pair:
        responses = {name: post(url, du01_body()) for name, url in pair.both()}
    assert lane.calls == 1  # the full app's request went the full way
    for response in responses.values():
        assert response.status_code == 200, response.text
        assert answer(response).kind == "bv03"
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        assert int(response.headers["content-length"]) == len(response.content)
        assert len(response.headers["x-request-id"]) == 32
    names = [
        [name for name, _ in r.headers.items() if name not in ("date", "server")] for r in responses.values()
    ]
    assert names[0] == names[1]


def test_the_request_id_and_log_context_reach_the_processing(
    sqlite_runtime: Runtime, lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def recording(runtime: Runtime, body: bytes, soap_action: str | None, root: Any) -> SoapReply:
        seen.append({**structlog.contextvars.get_contextvars(), "soap_action": soap_action})
        return SoapReply(200, b"<ok/>")

    monkeypatch.setattr(inbound_ggk, "handle_ggk_soap", recording)
    with served(sqlite_runtime) as pair:
        for name, url in pair.both():
            response = post(url, du01_body(), **{"X-Request-ID": f"retour-{name}"})
            assert response.headers["x-request-id"] == f"retour-{name}"
            unusable = post(url, du01_body(), **{"X-Request-ID": "x" * 65})
            assert len(unusable.headers["x-request-id"]) == 32  # replaced by a fresh one
    assert lane.calls == 2
    assert [entry["request_id"] for entry in seen[::2]] == ["retour-lean", "retour-full"]
    assert {entry["soap_action"] for entry in seen} == {soap_headers("ggk_Du01")["SOAPAction"]}


def test_an_accepted_retour_wakes_the_worker_and_a_refused_one_does_not(
    sqlite_runtime: Runtime, lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = iter([SoapReply(200, b"<ok/>"), SoapReply(500, b"<no/>")] * 2)
    monkeypatch.setattr(inbound_ggk, "handle_ggk_soap", lambda *_args: next(replies))
    for kind in ("lean", "full"):
        worker = CountingWorker()
        with served(sqlite_runtime, worker) as pair:
            url = pair.lean if kind == "lean" else pair.full
            assert post(url, du01_body()).status_code == 200
            assert worker.wakes == 1, kind
            assert post(url, du01_body()).status_code == 500
            assert worker.wakes == 1, kind
    assert lane.calls == 2


def _stream(total: int, chunk: int = 500) -> Iterator[bytes]:
    for _ in range(total // chunk):
        yield b"<" + b"x" * (chunk - 1)


@pytest.mark.parametrize("how", ["declared", "streamed"])
def test_a_body_over_the_cap_gets_fo03_ib007_and_is_not_processed(
    sqlite_runtime: Runtime, lane: Lane, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(inbound_ggk, "MAX_ENVELOPE_BYTES", 2000)
    processed: list[bytes] = []
    monkeypatch.setattr(inbound_ggk, "handle_ggk_soap", lambda _rt, body, *_: processed.append(body))
    with served(sqlite_runtime) as pair:
        for _name, url in pair.both():
            body: bytes | Iterator[bytes] = b"<" + b"x" * 2500 if how == "declared" else _stream(3000)
            response = post(url, body)
            assert response.status_code == 500
            assert response.headers["content-type"] == "text/xml; charset=utf-8"
            found = answer(response)
            assert (found.kind, found.code) == ("fo03", "IB007")
            assert (found.omschrijving or "").endswith("the request exceeds 2000 bytes")
    assert processed == []
    assert lane.calls == 1


def test_the_lane_stops_reading_at_the_cap() -> None:
    """Never more than the cap (plus one chunk) is pulled from the server, let alone kept."""
    pulled = 0

    async def endless() -> MutableMapping[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    scope: dict[str, Any] = {"headers": [(b"soapaction", b"x")]}
    assert asyncio.run(inbound_ggk._receive_capped(scope, endless, 2500)) is None
    assert pulled == 3
    declared: dict[str, Any] = {"headers": [(b"content-length", b"2501")]}
    assert asyncio.run(inbound_ggk._receive_capped(declared, endless, 2500)) is None
    assert pulled == 3  # refused on the declared length: nothing read


def test_a_client_that_hangs_up_is_a_disconnect_as_in_the_route() -> None:
    messages = iter([{"type": "http.request", "body": b"<a", "more_body": True}, {"type": "http.disconnect"}])

    async def receive() -> MutableMapping[str, Any]:
        return next(messages)

    with pytest.raises(ClientDisconnect):
        asyncio.run(inbound_ggk._receive_capped({"headers": []}, receive, 2500))


def test_an_unexpected_error_is_logged_and_answered_with_a_retryable_soap_fault(
    sqlite_runtime: Runtime, lane: Lane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain side answers in the chain's terms on both paths: a SOAP fault with IB103
    (retryable: the GGk offers it again), with the request id; the error's text never shown."""

    def failing(*_args: object) -> SoapReply:
        raise RuntimeError(f"database gone while handling {BSN}")

    monkeypatch.setattr(inbound_ggk, "handle_ggk_soap", failing)
    bodies = []
    with served(sqlite_runtime) as pair, structlog.testing.capture_logs() as logs:
        for name, url in pair.both():
            response = post(url, du01_body(), **{"X-Request-ID": f"boom-{name}"})
            assert response.status_code == 500
            assert response.headers["content-type"].startswith("text/xml")
            assert response.headers["x-request-id"] == f"boom-{name}"
            assert BSN not in response.text
            bodies.append(response.content)
    assert bodies[0] == bodies[1]
    assert b"IB103" in bodies[0] and b"Fault" in bodies[0]
    errors = [entry for entry in logs if entry["event"] == "inbound_processing_failed"]
    assert [(e["error_type"], e["log_level"]) for e in errors] == [("RuntimeError", "error")] * 2
    assert lane.calls == 1


def test_other_methods_and_paths_keep_the_full_stack(sqlite_runtime: Runtime, lane: Lane) -> None:
    with served(sqlite_runtime) as pair:
        results = []
        for _name, url in pair.both():
            with httpx.Client(base_url=url, timeout=10) as client:
                get = client.get("/ggk/soap")
                put = client.put("/ggk/soap", content=b"<a/>")
                slash = client.post("/ggk/soap/", content=du01_body(), follow_redirects=False)
                health = client.get("/health")
            results.append(
                [
                    (get.status_code, get.headers["content-type"], get.json()),
                    (put.status_code, put.json()),
                    (slash.status_code, slash.headers["location"].removeprefix(url)),
                    (health.status_code, health.json()["status"]),
                ]
            )
    assert results[0] == results[1]
    assert [row[0] for row in results[0]] == [405, 405, 307, 200]
    assert results[0][0][2]["type"] == "urn:gateway:problem:method-not-allowed"
    assert lane.calls == 0


def test_a_mounted_app_keeps_the_full_stack(sqlite_runtime: Runtime, lane: Lane) -> None:
    """With a ``root_path`` the router's own matching decides, as before."""
    app = create_app(sqlite_runtime)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path="/gateway")
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/ggk/soap", content=du01_body(), headers=soap_headers("ggk_Du01"))

    response = asyncio.run(call())
    assert response.status_code == 200 and answer(response).kind == "bv03"
    assert lane.calls == 0


# -- the chain-access check (mutual TLS on the chain listener) ---------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@dataclass
class ChainPair:
    runtime: Runtime
    api: dict[str, str]
    chain: dict[str, str]
    ca_file: Path

    def client(self, cert: Any) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if cert is not None:
            context.load_cert_chain(str(cert.cert_file), str(cert.key_file))
        return httpx.Client(verify=context, timeout=10)


@pytest.fixture(scope="module")
def chain_pair(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, pki: Pki
) -> Iterator[ChainPair]:
    """Both apps, each on a back-office and a chain listener; the party may send Fo01 only."""
    directory = tmp_path_factory.mktemp("lean-chain")
    shutil.copy(sqlite_template, directory / "gateway.db")
    settings = chain_settings(f"sqlite:///{directory / 'gateway.db'}", directory, pki, ["ggk:Fo01"])
    runtime = Runtime.create(settings)
    api: dict[str, str] = {}
    chain: dict[str, str] = {}
    try:
        with ExitStack() as stack:
            for name, app in zip(("lean", "full"), _apps(runtime), strict=True):
                api[name] = stack.enter_context(live_server(app, lifespan="off"))
                tls = settings.chain_tls.model_copy(update={"port": free_port()})
                config = chain_listener_config(app, tls, "127.0.0.1", log_level="warning")
                chain[name] = stack.enter_context(live_config(config))
            yield ChainPair(runtime, api, chain, pki.ca.ca_file)
    finally:
        runtime.close()


def _both(
    pair: ChainPair, send: Callable[[str], httpx.Response]
) -> list[tuple[int, str, str | None, str | None]]:
    found = []
    for name in ("lean", "full"):
        response = send(name)
        parsed = answer(response)
        found.append(
            (response.status_code, response.headers["content-type"], parsed.code, parsed.omschrijving)
        )
        assert "x-request-id" in response.headers
    assert found[0] == found[1]
    return found


def test_the_chain_access_check_is_kept(chain_pair: ChainPair, pki: Pki, lane: Lane) -> None:
    def over(cert: Any, body: bytes, operation: Operation) -> Callable[[str], httpx.Response]:
        def send(name: str) -> httpx.Response:
            with chain_pair.client(cert) as client:
                return client.post(
                    f"{chain_pair.chain[name]}/ggk/soap", content=body, headers=soap_headers(operation)
                )

        return send

    accepted = _both(chain_pair, over(pki.ggk, fo01_body(), "Fo01"))
    assert accepted[0][:3] == (200, "text/xml; charset=utf-8", None)
    stranger = _both(chain_pair, over(pki.stranger, fo01_body(), "Fo01"))
    assert stranger[0][:3] == (500, "text/xml; charset=utf-8", "IB002")
    assert OIN_STRANGER in (stranger[0][3] or "")
    no_oin = _both(chain_pair, over(pki.no_oin, fo01_body(), "Fo01"))
    assert no_oin[0][2] == "IB002"
    not_allowed = _both(chain_pair, over(pki.ggk, du01_body(), "ggk_Du01"))
    assert not_allowed[0][2:] == ("IB234", "ggk may not send JW302")

    def on_the_api_listener(name: str) -> httpx.Response:
        return post(chain_pair.api[name], fo01_body(), "Fo01")

    elsewhere = _both(chain_pair, on_the_api_listener)
    assert elsewhere[0][2:] == ("IB002", "chain endpoints are served on the mutual-TLS listener only")
    # Accepted and refused by the party's allow-list: through the lane's endpoint; refused
    # by the access check (stranger, no OIN, wrong listener): before it, as before.
    assert lane.calls == 2


# -- tracing --------------------------------------------------------------------------


def test_tracing_names_the_request_span_after_the_route(
    tmp_path: Path, sqlite_template: Path, lane: Lane
) -> None:
    shutil.copy(sqlite_template, tmp_path / "gateway.db")
    settings = make_settings(f"sqlite:///{tmp_path / 'gateway.db'}", tmp_path, otel={"enabled": True})
    runtime = Runtime.create(settings)
    exporter = InMemorySpanExporter()
    tracing.configure(OtelSettings(enabled=True, service_name="gateway-test"), exporter=exporter)
    try:
        with served(runtime) as pair:
            trace_ids = {}
            for name, url in pair.both():
                trace_id = uuid.uuid4().hex
                trace_ids[name] = trace_id
                parent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
                assert post(url, du01_body(), traceparent=parent).status_code == 200
            # A server span ends just after its response has left: wait for both.
            deadline = time.monotonic() + 10
            while len([s for s in exporter.get_finished_spans() if s.name == "POST /ggk/soap"]) < 2:
                assert time.monotonic() < deadline, "the request spans did not end"
                time.sleep(0.02)
    finally:
        tracing.shutdown()
        runtime.close()
    assert lane.calls == 1
    spans = exporter.get_finished_spans()
    for trace_id in trace_ids.values():
        mine = [s for s in spans if s.context is not None and f"{s.context.trace_id:032x}" == trace_id]
        server = [s for s in mine if s.name == "POST /ggk/soap"]
        assert len(server) == 1, [s.name for s in mine]
        attributes = dict(server[0].attributes or {})
        assert attributes["http.route"] == "/ggk/soap"
        assert attributes["http.response.status_code"] == 200
        inbound = [s for s in mine if s.name == "ggk.inbound"]
        assert len(inbound) == 1 and inbound[0].parent is not None
        assert server[0].context is not None
        assert inbound[0].parent.span_id == server[0].context.span_id
