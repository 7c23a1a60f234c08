"""Everything the GGk posts to ``/ggk/soap``, routed by SOAP operation.

- ``ggk_Di01``: an aanbieder's heenbericht (305/307/315/317/323) -> rules and retour;
- ``ggk_Du01``: a retour to one of our heenberichten (302/320) -> match and record;
- ``Fo01``: an asynchronous refusal of one of our messages.
A request that cannot be read is answered with a Fo03 and still stored, as invalid.
"""

from __future__ import annotations

import structlog

from connectors.ggk import (
    EnvelopeError,
    Heenbericht,
    Retourbericht,
    parse_envelope,
    parse_fo01,
    parse_soap_request,
    render_fo03_fault,
)
from gateway.inbound.ggk_heenberichten import handle_di01
from gateway.inbound.ggk_retours import SoapReply, bv03, handle_du01, handle_fo01, store_invalid
from gateway.inbound.handlers import HANDLERS
from gateway.runtime import Runtime

log = structlog.get_logger("gateway.inbound")


def handle_ggk_soap(runtime: Runtime, body: bytes, soap_action: str | None) -> SoapReply:
    """Process one SOAP request from the GGk and return what to answer."""
    try:
        request = parse_soap_request(body, soap_action)
        if request.operation == "Fo01":
            return handle_fo01(runtime, body, parse_fo01(request.element))
        envelope = parse_envelope(request.element)
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
        store_invalid(runtime, body, exc)
        log.warning("inbound_refused", code=exc.code, reason=exc.omschrijving)
        return SoapReply(500, render_fo03_fault(exc.code, exc.plek, exc.omschrijving))
