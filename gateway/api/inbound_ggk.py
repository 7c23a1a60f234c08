"""``POST /ggk/soap``: the gateway's SOAP endpoint for the GGk (Du01 retours, Fo01 errors).

The chain side answers in the chain's terms - Bv03, or a SOAP fault carrying Fo03 -
never problem+json.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from connectors.ggk import MAX_ENVELOPE_BYTES, EnvelopeError, render_fo03_fault
from gateway.inbound.ggk_dispatch import handle_ggk_soap
from gateway.inbound.ggk_precheck import precheck
from gateway.inbound.ggk_retours import SoapReply
from gateway.runtime import Runtime
from gateway.tls.access import caller_name, may_post

router = APIRouter(tags=["ketenpartijen"])
log = structlog.get_logger("gateway.inbound")
SOAP_XML = "text/xml; charset=utf-8"


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``limit`` (never buffers more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/ggk/soap", summary="GGk SOAP endpoint (ggk_Du01, Fo01)", response_class=Response)
async def ggk_soap(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body = await _read_capped(request, MAX_ENVELOPE_BYTES)
    if body is None:
        error = EnvelopeError.of("IB007", f"the request exceeds {MAX_ENVELOPE_BYTES} bytes")
        return Response(
            render_fo03_fault(error.code, error.plek, error.omschrijving), 500, media_type=SOAP_XML
        )
    reply = await run_in_threadpool(_take, request, runtime, body)
    return Response(reply.body, reply.status_code, media_type=SOAP_XML)


def _take(request: Request, runtime: Runtime, body: bytes) -> SoapReply:
    """Pre-check, allow-list and processing in one worker-thread hop (not two) per request."""
    try:
        checked = precheck(body)
    except EnvelopeError as exc:  # hostile XML: refused, nothing stored
        log.warning("inbound_hostile_refused", code=exc.code, reason=exc.omschrijving)
        return SoapReply(500, render_fo03_fault(exc.code, exc.plek, exc.omschrijving))
    if checked.message_type is not None and not may_post(request, "ggk", checked.message_type):
        reason = f"{caller_name(request)} may not send {checked.message_type}"
        log.warning("chain_message_type_refused", endpoint="ggk", message_type=checked.message_type)
        return SoapReply(500, render_fo03_fault("IB234", "client", reason))
    return handle_ggk_soap(runtime, body, request.headers.get("soapaction"), checked.root)
