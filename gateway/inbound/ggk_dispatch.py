"""Everything the GGk posts to ``/ggk/soap``, routed by SOAP operation.

- ``ggk_Di01``: an aanbieder's heenbericht (305/307/315/317/323) -> rules and retour;
- ``ggk_Du01``: a retour to one of our heenberichten (302/320) -> match and record;
- ``Fo01``: an asynchronous refusal of one of our messages.
A request that cannot be read is answered with a Fo03 and still stored, as invalid.
"""

from __future__ import annotations

import structlog
from lxml import etree

from connectors.ggk import (
    EnvelopeError,
    Heenbericht,
    Retourbericht,
    parse_envelope,
    parse_fo01,
    parse_soap_request,
    render_fo03_fault,
)
from gateway import tracing
from gateway.inbound.ggk_heenberichten import handle_di01
from gateway.inbound.ggk_retours import SoapReply, bv03, handle_du01, handle_fo01, store_invalid
from gateway.inbound.handlers import HANDLERS
from gateway.runtime import Runtime

log = structlog.get_logger("gateway.inbound")


def handle_ggk_soap(
    runtime: Runtime, body: bytes, soap_action: str | None, root: etree._Element | None = None
) -> SoapReply:
    """Process one SOAP request from the GGk and return what to answer.

    ``root``: the body as the endpoint's pre-check already parsed it (parsed here otherwise).

    In a span ``ggk.inbound`` when tracing is on: the operation, the envelope's functie
    and referentienummer, and the outcome (``accepted``, or ``refused`` with the Fo03 code).
    """
    with tracing.span("ggk.inbound", {"gateway.party": "ggk"}) as span:
        reply = _dispatch(runtime, body, soap_action, root, span)
        span.set_attribute("gateway.outcome", "accepted" if reply.status_code < 300 else "refused")
        return reply


def _dispatch(
    runtime: Runtime,
    body: bytes,
    soap_action: str | None,
    root: etree._Element | None,
    span: tracing.SpanHandle,
) -> SoapReply:
    try:
        request = parse_soap_request(body, soap_action, root)
        span.set_attribute("gateway.operation", request.operation)
        if request.operation == "Fo01":
            return handle_fo01(runtime, body, parse_fo01(request.element))
        envelope = parse_envelope(request.element)
        span.set_attribute("gateway.functie", envelope.functie)
        span.set_attribute("gateway.referentienummer", envelope.referentienummer)
        if request.operation == "ggk_Du01":
            if not isinstance(envelope, Retourbericht):
                raise EnvelopeError.of("RIN001", "a ggk_Du01 call must carry a Du01 envelope")
            return handle_du01(runtime, body, envelope)
        if not isinstance(envelope, Heenbericht):
            raise EnvelopeError.of("RIN001", "a ggk_Di01 call must carry a Di01 envelope")
        if envelope.ontvanger.organisatie != runtime.settings.gemeentecode:
            raise EnvelopeError.of(
                "IB210", f"ontvanger {envelope.ontvanger.organisatie[:20]!r} is not this gemeente"
            )
        handle_di01(runtime, body, envelope, HANDLERS)
        return bv03(runtime, envelope.zender, envelope.referentienummer)
    except EnvelopeError as exc:
        span.set_attribute("gateway.code", exc.code)
        store_invalid(runtime, body, exc)
        log.warning("inbound_refused", code=exc.code, reason=exc.omschrijving)
        return SoapReply(500, render_fo03_fault(exc.code, exc.plek, exc.omschrijving))
