"""``POST /corv/ebms``: the gateway's ebMS endpoint for the CORV hub.

The body is spooled to a temporary file while it streams in (at most 1 MB in memory,
never more than the configured maximum on disk), then parsed and processed in a worker
thread. The answer is in ebMS terms - an Acknowledgment (maybe with a Bv01/Fo03) or a
MessageError - never problem+json.

On the mutual-TLS chain listener (production) the sender is judged once the message is
parsed: its ebMS From/PartyId must be the OIN of its client certificate, and its Action
must be on the party's allow-list (``corv:notificatieDi01``, ``corv:Acknowledgment``, ...:
:func:`gateway.tls.access.may_post`). Otherwise an ebMS MessageError ``SecurityFailure``,
and nothing is stored. (Unknown certificates never get this far: the TLS handshake and
``ChainAccessMiddleware`` refuse them.)
"""

from __future__ import annotations

import tempfile
from typing import BinaryIO, cast

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from connectors.ebms import EbmsError, MessageHeader, NotSupported, SecurityFailure, build_message_error
from gateway.corv.inbound import Authorise, handle_ebms
from gateway.corv.outbound import spool_dir
from gateway.runtime import Runtime
from gateway.settings import ChainPartyAccess
from gateway.tls.access import may_post

router = APIRouter(tags=["ketenpartijen"])
_IN_MEMORY = 1024 * 1024


@router.post(
    "/corv/ebms", summary="CORV ebMS endpoint (jz0100 messages, acknowledgements)", response_class=Response
)
async def corv_ebms(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    limit = runtime.settings.corv.max_message_bytes
    declared = request.headers.get("content-length")
    too_large = declared is not None and declared.isdigit() and int(declared) > limit
    with tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY, dir=str(spool_dir(runtime.settings))) as raw:
        spool = cast(BinaryIO, raw)
        size = 0
        if not too_large:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    too_large = True
                    break
                spool.write(chunk)
        if too_large:
            content_type, body = build_message_error(
                NotSupported(f"the message is larger than the limit of {limit} bytes", location="HTTP body")
            )
            return Response(body, 500, media_type=content_type)
        spool.seek(0)
        reply = await run_in_threadpool(
            handle_ebms, runtime, request.headers.get("content-type"), spool, _authorise(request)
        )
    headers = {"Content-Type": reply.content_type} if reply.content_type else None
    return Response(reply.body, reply.status, headers=headers)


def _authorise(request: Request) -> Authorise | None:
    """The sender check for a request on the chain listener; None without one (development)."""
    if not request.app.state.runtime.settings.chain_tls.enabled:
        return None
    party: ChainPartyAccess | None = getattr(request.state, "chain_party", None)

    def authorise(header: MessageHeader) -> EbmsError | None:
        if party is None or header.from_party != party.oin:
            return SecurityFailure(
                "From/PartyId is not the OIN of the client certificate", location="eb:From/eb:PartyId"
            )
        if not may_post(request, "corv", header.action):
            return SecurityFailure(f"{party.name} may not send {header.action[:40]}", location="eb:Action")
        return None

    return authorise
