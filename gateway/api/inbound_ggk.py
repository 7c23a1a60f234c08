"""``POST /ggk/soap``: the gateway's SOAP endpoint for the GGk (Du01 retours, Fo01 errors).

The chain side answers in the chain's terms - Bv03, or a SOAP fault carrying Fo03 -
never problem+json.

Served twice over: :func:`serve_ggk_soap` answers it as plain ASGI on the lean lane that
:func:`gateway.app.create_app` puts in front of FastAPI (every retour of the chain takes
it), and the FastAPI route below answers what that lane leaves to the full stack (a
``root_path``, i.e. a mounted app). Both give :func:`_answer`'s reply: the body read within
the cap (:func:`_receive_capped`), then :func:`_take` in one thread hop.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio
import structlog
from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from connectors.ggk import MAX_ENVELOPE_BYTES, EnvelopeError, render_fo03_fault
from gateway.inbound.ggk_dispatch import handle_ggk_soap
from gateway.inbound.ggk_precheck import precheck
from gateway.inbound.ggk_retours import SoapReply
from gateway.runtime import Runtime
from gateway.tls.access import caller_name, may_post
from gateway.tls.server import Receive, Scope, Send

router = APIRouter(tags=["ketenpartijen"])
log = structlog.get_logger("gateway.inbound")
SOAP_XML = "text/xml; charset=utf-8"
SOAP_PATH = "/ggk/soap"
_SOAP_XML_HEADER = (b"content-type", SOAP_XML.encode("latin-1"))


def _too_large() -> bytes:
    error = EnvelopeError.of("IB007", f"the request exceeds {MAX_ENVELOPE_BYTES} bytes")
    return render_fo03_fault(error.code, error.plek, error.omschrijving)


async def _receive_capped(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it exceeds ``limit`` (never buffers more).

    Read from the raw ASGI messages, for the lane and the route alike: a declared length
    over the limit is refused before anything is read, the count stops at the limit, and a
    client that hangs up raises :class:`ClientDisconnect` (as ``Request.stream()`` would).
    """
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > limit:
                return None
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def serve_ggk_soap(scope: Scope, receive: Receive, send: Send) -> None:
    """What the route below does, over the raw ASGI messages (the lean lane's endpoint).

    Why: hundreds of retours a second arrive here, and FastAPI's way to the route - its
    own middlewares, the router's match over every route, the endpoint's dependency
    solving, a Response object - cost a fixed slice of CPU per retour that this endpoint
    has no use for: it takes no parameters (the body is XML, checked by :func:`_take`).
    ``scope["app"]`` must be the gateway's app (the lane sets it, as Starlette does).
    """
    reply = await _answer(Request(scope, receive))
    await send(
        {
            "type": "http.response.start",
            "status": reply.status_code,
            "headers": [(b"content-length", str(len(reply.body)).encode("latin-1")), _SOAP_XML_HEADER],
        }
    )
    await send({"type": "http.response.body", "body": reply.body})


@router.post(SOAP_PATH, summary="GGk SOAP endpoint (ggk_Du01, Fo01)", response_class=Response)
async def ggk_soap(request: Request) -> Response:
    reply = await _answer(request)
    return Response(reply.body, reply.status_code, media_type=SOAP_XML)


async def _answer(request: Request) -> SoapReply:
    """The lane's and the route's answer: the body read within the cap, then :func:`_take`."""
    body = await _receive_capped(request.scope, request.receive, MAX_ENVELOPE_BYTES)
    if body is None:
        return SoapReply(500, _too_large())
    runtime: Runtime = request.app.state.runtime
    return await _in_thread(_take, request, runtime, body)


_T = TypeVar("_T")
#: At most 10 of the database pool's connections (24 kept, 16 more for a moment:
#: ``Settings.database_pool_size``) in use by GGk messages at once: a burst from the chain
#: can then never make the back-office API wait for a connection. Processing a retour takes
#: a few ms, so 10 keep up with hundreds per second.
_THREADS = 10
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool_after_fork() -> None:
    # A child of `serve --processes` must not inherit a pool whose threads stayed behind
    # in the parent: its idle count would stop submit() from starting new ones.
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="ggk-inbound")
        return _pool


async def _in_thread(func: Callable[..., _T], *args: object) -> _T:
    """``run_in_threadpool(func, *args)`` on a pool of the endpoint's own.

    Why: every message from the GGk takes this hop, and Starlette's way (anyio's worker
    threads: a limiter, a cancel scope, a Python queue with a condition variable per
    handoff) cost about 0.2-0.3 ms CPU per request more than an executor's hop in the
    round-trip bench. Kept from it: the caller's context variables (correlation id, log
    and trace context) go along, and a cancelled request still waits for the thread to
    finish before the cancellation goes on (the processing is never left running
    unobserved while the app shuts down).
    """
    future = asyncio.get_running_loop().run_in_executor(
        _executor(), contextvars.copy_context().run, func, *args
    )
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # Shielded: an anyio cancel scope re-delivers its cancellation at every loop pass,
        # which would turn this wait into a busy loop until the thread is done.
        with anyio.CancelScope(shield=True):
            while not future.done():
                try:
                    await asyncio.wait({future})
                except asyncio.CancelledError:
                    continue
        if not future.cancelled() and future.exception() is not None:
            log.warning("inbound_failed_after_cancel", error_type=type(future.exception()).__name__)
        raise


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
    try:
        return handle_ggk_soap(runtime, body, request.headers.get("soapaction"), checked.root)
    except Exception as exc:
        # Answered in the chain's terms, not as the API's problem+json: a SOAP fault with a
        # retryable code, so the GGk offers the message again later (what processing writes
        # is one transaction - or one statement - kept whole or not at all, and a re-send
        # of what was kept is acknowledged as a duplicate). The text is not shown: it may
        # hold personal data.
        log.exception("inbound_processing_failed", error_type=type(exc).__name__)
        return SoapReply(500, _TRY_AGAIN_LATER)


#: IB103 (temporarily blocked, retryable): what a message gets that failed for a reason of
#: ours - the database away, a fault in the gateway - rather than of the message.
_TRY_AGAIN_LATER = render_fo03_fault(
    "IB103", "server", "Bericht tijdelijk niet verwerkt door de ontvanger; bied het later opnieuw aan"
)
