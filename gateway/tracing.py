"""Optional OpenTelemetry traces: API requests, delivery attempts, inbound chain messages.

Off by default (``GATEWAY_OTEL__ENABLED``). Disabled, :func:`span` hands out one shared
do-nothing object and no middleware or HTTP hook is installed, so the hot paths pay a
global lookup and nothing more - and the SDK need not be installed. Enabled without the
SDK (``pip install 'gemeente-gateway[otel]'``), :func:`configure` raises
:class:`TracingUnavailableError`, which the CLI turns into a start-up error.

What a span may carry: ids (message id - the correlation id -, referentienummer, route,
party), message types, outcomes, HTTP status. Never a BSN and never a raw URL (ids in a
path could be BSNs): request spans are named after the route *template*. As a last line
of defence every string attribute that holds an 11-proef-valid 9-digit number is
replaced, and exceptions are recorded by type only (their text is not ours to vouch for).

The gateway keeps its own tracer provider instead of the process-global one: the global
one can be set once per process, and tests (and programs embedding the gateway) swap
exporters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.bsn import mask_in_text

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

    from gateway.settings import OtelSettings

AttributeValue = str | int | float | bool

REDACTED = "[redacted]"


class TracingUnavailableError(RuntimeError):
    """Tracing is enabled in the settings but the OpenTelemetry SDK is not installed."""


class SpanHandle(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None: ...


class _NoSpan:
    """What :func:`span` yields when tracing is off: accepts everything, keeps nothing."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


_NO_SPAN = _NoSpan()


class _Tracing:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("gateway")


#: None = tracing off (the default); set by :func:`configure`.
_active: _Tracing | None = None


def enabled() -> bool:
    return _active is not None


def configure(settings: OtelSettings, exporter: SpanExporter | None = None) -> None:
    """Start tracing per ``settings`` (no-op when disabled). ``exporter``: tests only.

    Spans go through a batching processor to the OTLP/HTTP ``settings.endpoint``; an
    explicit exporter is fed synchronously (its spans are there when the call returns).
    """
    global _active
    if not settings.enabled:
        return
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise TracingUnavailableError(
            "GATEWAY_OTEL__ENABLED is set but the OpenTelemetry SDK is not installed: "
            "pip install 'gemeente-gateway[otel]' (or set GATEWAY_OTEL__ENABLED=false)"
        ) from exc
    shutdown()
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise TracingUnavailableError(
                "GATEWAY_OTEL__ENABLED is set but the OTLP exporter is not installed: "
                "pip install 'gemeente-gateway[otel]'"
            ) from exc
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.endpoint)))
    _active = _Tracing(provider)


def shutdown() -> None:
    """Flush and stop tracing (tests; the provider also flushes at process exit)."""
    global _active
    if _active is not None:
        _active.provider.shutdown()
        _active = None


def _clean(value: AttributeValue) -> AttributeValue:
    if isinstance(value, str) and mask_in_text(value) != value:  # holds a BSN (the one detector)
        return REDACTED
    return value


def span(
    name: str, attributes: Mapping[str, AttributeValue | None] | None = None, *, kind: str = "internal"
) -> AbstractContextManager[SpanHandle]:
    """A span around a block, child of the current one; a shared no-op when tracing is off.

    ``kind``: ``internal``, ``server`` or ``client``. None-valued attributes are left out.
    """
    if _active is None:
        return _NO_SPAN
    return _real_span(_active, name, attributes or {}, kind)


@contextmanager
def _real_span(
    active: _Tracing,
    name: str,
    attributes: Mapping[str, AttributeValue | None],
    kind: str,
    context: Any = None,
) -> Iterator[_CleanSpan]:
    from opentelemetry.trace import SpanKind, Status, StatusCode

    span_kind = {"server": SpanKind.SERVER, "client": SpanKind.CLIENT}.get(kind, SpanKind.INTERNAL)
    with active.tracer.start_as_current_span(
        name,
        context=context,
        kind=span_kind,
        attributes={key: _clean(value) for key, value in attributes.items() if value is not None},
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        handle = _CleanSpan(current)
        # Log lines written inside the span carry its trace id: from a log line to its trace.
        trace_id = f"{current.get_span_context().trace_id:032x}"
        try:
            with structlog.contextvars.bound_contextvars(trace_id=trace_id):
                yield handle
        except BaseException as exc:
            current.set_attribute("error.type", type(exc).__name__)
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


class _CleanSpan:
    """The real span behind the :class:`SpanHandle` face: attributes pass :func:`_clean`."""

    def __init__(self, span: Any) -> None:
        self._span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, _clean(value))

    def update_name(self, name: str) -> None:
        self._span.update_name(name)


def annotate(attributes: Mapping[str, AttributeValue | None]) -> None:
    """Add attributes to the current span (if any), e.g. the message id a request created."""
    if _active is None:
        return
    from opentelemetry import trace

    current = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key, _clean(value))


def event(name: str, attributes: Mapping[str, AttributeValue | None]) -> None:
    """Record an event on the current span (if any): ``message.created`` with its id."""
    if _active is None:
        return
    from opentelemetry import trace

    trace.get_current_span().add_event(
        name, {key: _clean(value) for key, value in attributes.items() if value is not None}
    )


# -- outbound: trace context in the request headers -------------------------------------


def _inject_traceparent(request: httpx.Request) -> None:
    from opentelemetry.propagate import inject

    inject(request.headers)


def propagate_on(client: httpx.Client) -> None:
    """Let ``client``'s requests carry the current span's ``traceparent`` (W3C Trace Context).

    Only when tracing is on: disabled, the client is left exactly as it was.
    """
    if _active is None:
        return
    hooks = client.event_hooks
    if _inject_traceparent not in hooks["request"]:
        hooks["request"] = [*hooks["request"], _inject_traceparent]
        client.event_hooks = hooks


# -- inbound: one server span per HTTP request ------------------------------------------


class TracingMiddleware:
    """One ``server`` span per HTTP request, named ``METHOD /route/{template}``.

    Installed by :func:`gateway.app.create_app` only when tracing is enabled. A caller's
    ``traceparent`` becomes the parent. The name and ``http.route`` come from the matched
    route's template, never the raw path; an unmatched request is named by its method.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _active is None:
            await self.app(scope, receive, send)
            return
        from opentelemetry.propagate import extract

        carrier = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        method = str(scope.get("method", "GET"))
        status = {"code": 500}

        async def send_recording_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        attributes: dict[str, AttributeValue | None] = {"http.request.method": method}
        with _real_span(_active, method, attributes, "server", context=extract(carrier)) as handle:
            try:
                await self.app(scope, receive, send_recording_status)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", None)
                if isinstance(template, str):
                    handle.set_attribute("http.route", template)
                    handle.update_name(f"{method} {template}")
                handle.set_attribute("http.response.status_code", status["code"])
