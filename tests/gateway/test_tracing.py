"""Optional OpenTelemetry traces over a real flow: API POST -> worker -> mock GGk -> retour.

The SDK's in-memory exporter collects what the gateway would send to a collector. The
flow runs over loopback HTTP against a real database; a webhook receiver on loopback
shows the trace context travelling in the outbound request headers.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request, Response
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from gateway import tracing
from gateway.bsn import passes_elfproef
from gateway.cli import app as cli_app
from gateway.settings import OtelSettings
from tests.conftest import AUTH, BSN, beschikking_body
from tests.gateway.stack import running_stack
from tests.live_server import live_server

_NINE_DIGITS = re.compile(r"[0-9]{9}")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure(OtelSettings(enabled=True, service_name="gateway-test"), exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def _wait_for(exporter: InMemorySpanExporter, predicate: Any, what: str) -> list[ReadableSpan]:
    """Spans end after the response has left (server) or the state was written (worker)."""
    deadline = time.monotonic() + 15
    while True:
        found = [span for span in exporter.get_finished_spans() if predicate(span)]
        if found:
            return found
        if time.monotonic() > deadline:
            names = sorted({span.name for span in exporter.get_finished_spans()})
            raise AssertionError(f"no span {what}; spans seen: {names}")
        time.sleep(0.05)


def _attrs(item: Any) -> dict[str, Any]:
    """A span's or event's attributes as a plain dict (the SDK types them optional)."""
    return dict(item.attributes or {})


def _bsns_in(value: object) -> list[str]:
    return [m for m in _NINE_DIGITS.findall(str(value)) if passes_elfproef(m)]


def _trace_and_span(traceparent: str) -> tuple[int, int] | None:
    """The trace and parent span id of a W3C ``traceparent`` (version-traceid-spanid-flags)."""
    parts = traceparent.split("-")
    return (int(parts[1], 16), int(parts[2], 16)) if len(parts) == 4 else None


def _receiver() -> tuple[FastAPI, list[dict[str, str]]]:
    """A webhook receiver on loopback that remembers each request's headers."""
    received: list[dict[str, str]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        received.append(dict(request.headers))
        return Response(status_code=204)

    return receiver, received


def test_a_flow_is_traced_with_ids_and_without_bsns(
    database_url: str, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    receiver, received = _receiver()
    with live_server(receiver) as receiver_url:
        webhook = {"name": "rec", "url": f"{receiver_url}/hook", "secret": "s" * 32, "events": ["bericht.*"]}
        with running_stack(database_url, tmp_path, otel={"enabled": True}, webhooks=[webhook]) as stack:
            body = beschikking_body()
            assert body["client"]["bsn"] == BSN  # type: ignore[index]
            message_id: int = stack.post_beschikking(body)["berichten"][0]["id"]
            stack.wait_for_state(message_id, "answered")
            # A raw URL with a BSN in it must not name a span.
            assert stack.api.get(f"/api/v1/berichten/{BSN}", headers=AUTH).status_code in (404, 422)

            post = _wait_for(spans, lambda s: s.name == "POST /api/v1/beschikkingen", "for the API POST")[0]
            delivery = _wait_for(
                spans,
                lambda s: s.name == "delivery.attempt" and _attrs(s).get("gateway.message_id") == message_id,
                "for the delivery attempt",
            )[0]
            inbound = _wait_for(
                spans,
                lambda s: s.name == "ggk.inbound" and _attrs(s).get("gateway.message_id") == message_id,
                "for the retour",
            )[0]
            hook = _wait_for(
                spans,
                lambda s: s.name == "delivery.attempt" and _attrs(s).get("gateway.party") == "webhook",
                "for a webhook delivery",
            )[0]
            raw = _wait_for(
                spans,
                lambda s: _attrs(s).get("http.route") == "/api/v1/berichten/{message_id}",
                "by template",
            )

    # The API request: a server span named by its route template, the new message as an event.
    assert post.kind.name == "SERVER"
    assert _attrs(post)["http.route"] == "/api/v1/beschikkingen"
    assert _attrs(post)["http.response.status_code"] == 201
    created = [e for e in post.events if e.name == "message.created"]
    assert [_attrs(e)["gateway.message_id"] for e in created] == [message_id]

    # The delivery attempt: the message id (correlation id), party, route, attempt, outcome.
    assert delivery.kind.name == "CLIENT"
    assert _attrs(delivery)["gateway.party"] == "ggk"
    assert str(_attrs(delivery)["gateway.route"]).startswith("ggk:")
    assert _attrs(delivery)["gateway.attempt"] == 1
    assert _attrs(delivery)["gateway.outcome"] == "delivered"
    assert _attrs(delivery)["gateway.operation"] == "ggk_Di01"

    # The retour: a child of the request span of POST /ggk/soap, matched to the message.
    assert _attrs(inbound)["gateway.operation"] == "ggk_Du01"
    assert _attrs(inbound)["gateway.functie"] == "JW302"
    assert _attrs(inbound)["gateway.outcome"] == "accepted"
    soap_requests = [s for s in spans.get_finished_spans() if s.name == "POST /ggk/soap"]
    assert inbound.parent is not None
    assert inbound.parent.span_id in {s.context.span_id for s in soap_requests}

    # Trace context in the outbound request: the receiver saw the attempt's traceparent.
    parents = [_trace_and_span(headers.get("traceparent", "")) for headers in received]
    assert (hook.context.trace_id, hook.context.span_id) in parents

    # The raw URL with a BSN named no span; nothing anywhere holds an 11-proef-valid number.
    assert all(span.name == "GET /api/v1/berichten/{message_id}" for span in raw)
    everything = spans.get_finished_spans()
    assert len(everything) >= 5
    for span in everything:
        found = _bsns_in(span.name) + _bsns_in(dict(span.attributes or {}))
        found += [b for event in span.events for b in _bsns_in(dict(event.attributes or {}))]
        found += _bsns_in(dict(span.resource.attributes))
        assert not found, f"a BSN in span {span.name}: {found}"
    assert {span.resource.attributes["service.name"] for span in everything} == {"gateway-test"}


def test_a_bsn_in_an_attribute_is_replaced(spans: InMemorySpanExporter) -> None:
    """The last line of defence: an attribute value holding a BSN never leaves as such."""
    with tracing.span("check", {"note": f"about {BSN}", "ok": "bericht 12"}) as span:
        span.set_attribute("later", f"bsn={BSN}")
        tracing.annotate({"annotated": BSN})
        tracing.event("seen", {"value": BSN})
    (finished,) = spans.get_finished_spans()
    assert finished.attributes == {
        "note": tracing.REDACTED,
        "ok": "bericht 12",
        "later": tracing.REDACTED,
        "annotated": tracing.REDACTED,
    }
    assert finished.events[0].attributes == {"value": tracing.REDACTED}


def test_log_lines_inside_a_span_carry_its_trace_id(spans: InMemorySpanExporter) -> None:
    with tracing.span("outer"):
        bound = structlog.contextvars.get_contextvars().get("trace_id")
    assert "trace_id" not in structlog.contextvars.get_contextvars()
    (finished,) = spans.get_finished_spans()
    assert bound == f"{finished.context.trace_id:032x}"


def test_an_exception_is_recorded_by_type_only(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError), tracing.span("failing"):
        raise ValueError(f"the text of an exception may hold {BSN}")
    (finished,) = spans.get_finished_spans()
    assert finished.status.status_code.name == "ERROR"
    assert finished.attributes == {"error.type": "ValueError"}
    assert not finished.events and BSN not in str(finished.status.description)


def test_disabled_tracing_costs_nothing() -> None:
    """Off (the default): one shared no-op object, clients untouched, no middleware."""
    assert not tracing.enabled()
    first = tracing.span("a", {"x": 1})
    with first as handle:
        handle.set_attribute("y", 2)
    assert tracing.span("b") is first
    with httpx.Client() as client:
        tracing.propagate_on(client)
        assert client.event_hooks["request"] == []
    assert OtelSettings().enabled is False


def test_enabled_without_the_sdk_is_a_clear_start_up_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # None in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(tracing.TracingUnavailableError, match=r"pip install 'gemeente-gateway\[otel\]'"):
        tracing.configure(OtelSettings(enabled=True))
    assert not tracing.enabled()

    monkeypatch.setenv("GATEWAY_OTEL__ENABLED", "true")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("GATEWAY_SETTINGS_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("GATEWAY_LOG_JSON", "false")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        result = CliRunner().invoke(cli_app, ["db", "upgrade"])
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level
    assert result.exit_code == 2, result.output
    assert "GATEWAY_OTEL__ENABLED is set but the OpenTelemetry SDK is not installed" in result.output
    assert not (tmp_path / "cli.db").exists()  # stopped before touching anything


def test_propagation_only_joins_the_current_span(spans: InMemorySpanExporter) -> None:
    """Outside any span no traceparent is invented; inside one it is that span's."""
    receiver, received = _receiver()
    with live_server(receiver) as url, httpx.Client() as client:
        tracing.propagate_on(client)
        tracing.propagate_on(client)  # idempotent: one hook
        assert len(client.event_hooks["request"]) == 1
        client.post(f"{url}/hook")
        with tracing.span("outer", kind="client"):
            client.post(f"{url}/hook")
    assert "traceparent" not in received[0]
    (outer,) = spans.get_finished_spans()
    assert _trace_and_span(received[1]["traceparent"]) == (outer.context.trace_id, outer.context.span_id)
