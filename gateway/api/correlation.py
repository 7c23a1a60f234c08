"""Request ids on every request, and a nudge to the delivery worker after an accepted write.

Every log line of a request carries its ``request_id`` (a caller's ``X-Request-ID`` is
reused when it is short and printable, else a new one is made); the response carries it
back in ``X-Request-ID``. A POST answered with 2xx has usually queued a message, so the
in-process delivery worker is woken instead of waiting for its next poll.

A pure ASGI middleware rather than ``@app.middleware("http")``: that form runs every
request through an extra task and a streamed copy of the response, a fixed cost per
request on the latency path (issue 7).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog

from gateway.api.problems import PROBLEM_JSON, REQUEST_ID_SCOPE_KEY, UNEXPECTED
from gateway.delivery.wakeups import Wakeable
from gateway.tls.server import AsgiApp, Receive, Scope, Send

MAX_REQUEST_ID_LENGTH = 64

log = structlog.get_logger("gateway.api")


def request_id(supplied: str) -> str:
    """The caller's id when usable (1-64 printable characters), else a fresh one."""
    usable = 0 < len(supplied) <= MAX_REQUEST_ID_LENGTH and supplied.isprintable()
    return supplied if usable else uuid.uuid4().hex


class CorrelationMiddleware:
    def __init__(self, app: AsgiApp, worker: Wakeable | None = None) -> None:
        self.app = app
        self.worker = worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = ""
        for name, value in scope.get("headers") or []:
            if name.lower() == b"x-request-id":
                supplied = value.decode("latin-1")
                break
        rid = request_id(supplied)
        header = (b"x-request-id", rid.encode("latin-1"))
        wake = self.worker is not None and scope.get("method") == "POST"

        started = False

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    *(h for h in message.get("headers") or [] if h[0].lower() != b"x-request-id"),
                    header,
                ]
                if wake and self.worker is not None and message["status"] < 300:
                    self.worker.wake()  # before the caller sees the answer, as it may poll at once
            await send(message)

        # Also in the scope: an unexpected error is answered outside this middleware (by
        # Starlette's outermost one), after the log context below is gone.
        scope[REQUEST_ID_SCOPE_KEY] = rid
        structlog.contextvars.bind_contextvars(request_id=rid)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise  # half an answer is out: only closing the connection tells the client
            # Answered here rather than re-raised: the server would close the connection after
            # logging it, and a client whose request body was not read yet then gets a reset
            # instead of this answer. The text is not shown: it may hold personal data.
            log.exception("api_unhandled_error", path=scope.get("path"), error_type=type(exc).__name__)
            body = json.dumps(UNEXPECTED.body(scope.get("path"))).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": UNEXPECTED.status,
                    "headers": [
                        (b"content-type", PROBLEM_JSON.encode()),
                        (b"content-length", str(len(body)).encode()),
                        header,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
