"""The mock GGk: a SOAP endpoint that takes Di01 envelopes as the GGk does, and mock
aanbieders that answer them asynchronously with a Du01 (302 retour) or a Fo01.

What it checks synchronously, in the GGk's order and with the GGk's codes: size (IB007),
envelope XSD (RIN001), UUID v4 (IB009), sender is a gemeente (IB213), receiver is a
routable AGB code (IB210), referentienummer not seen before (IB016). Then Bv03, and -
after ``retour_delay_s``, in the background - the aanbieder's answer is posted to the
gateway's inbound endpoint (``callback_url``), retried with backoff while the gateway is
unreachable, as the real chain keeps a message until it is delivered.

Tests steer it through :class:`~mocks.ggk.behaviour.Behaviour` rules (``PUT
/_mock/behaviour`` or ``app.state.ggk.rules.set(...)``).

The mock aanbieders also act on their own (:mod:`mocks.ggk.aanbieder_api`): they send
heenberichten (305/307/315/317/323) to the gateway on a test's request, record the
gemeente's answers (Du01 retours, Fo01s) by crossRefnummer, and answer a 319
Antwoordbericht with a 320 retour as they answer a 301 with a 302.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from lxml import etree
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from connectors.ggk import (
    MAX_ENVELOPE_BYTES,
    EnvelopeError,
    Heenbericht,
    Retourbericht,
    Systeem,
    parse_envelope,
    parse_fo01,
    parse_soap_request,
    parse_soap_response,
    render_fo03_fault,
)
from connectors.ggk.envelope import STUF_NS
from connectors.istandaard import PayloadRejected, parse_antwoord
from mocks.ggk.aanbieder import Answer, answer_heenbericht
from mocks.ggk.aanbieder_api import aanbieder_router
from mocks.ggk.aanbieders import MOCK_AANBIEDERS, is_gemeentecode, is_mock_agb
from mocks.ggk.behaviour import Behaviour, RuleBook
from mocks.ggk.callback import CallbackClient
from mocks.ggk.faults import CLEAN, Draw, FaultInjector, Faults, drop_connection
from mocks.ggk.ledger import Ledger
from mocks.ggk.parties import PARTY_MODULES, party
from mocks.ggk.retouren import AanbiederLog
from mocks.ggk.templates import Bv03Templates

log = structlog.get_logger("mocks.ggk")

_SOAP_MEDIA_TYPE = "text/xml; charset=utf-8"
#: Where the GGk takes SOAP requests.
SOAP_PATH = "/ggk/soap"


class MockGgkConfig(BaseModel):
    """How one mock GGk instance runs. It accepts messages from any gemeentecode."""

    #: The gateway's inbound SOAP endpoint, e.g. ``http://127.0.0.1:8080/ggk/soap``.
    callback_url: str
    #: Delay between the Bv03 and the aanbieder's retour (or Fo01).
    retour_delay_s: float = Field(default=0.5, ge=0)
    #: Attempts to deliver one callback before giving up.
    callback_attempts: int = Field(default=10, ge=1)
    #: First backoff between callback attempts; doubles per attempt up to ``callback_backoff_max_s``.
    callback_backoff_s: float = Field(default=0.2, ge=0)
    callback_backoff_max_s: float = Field(default=5.0, ge=0)
    callback_timeout_s: float = Field(default=10.0, gt=0)
    #: The gemeente a mock aanbieder's heenbericht goes to unless the send request names one.
    gemeentecode: str = Field(default="0637", pattern=r"^[0-9]{4}$")
    #: Rules in force from the start.
    behaviours: list[Behaviour] = Field(default_factory=list)
    #: Transport faults in force from the start (``mocks/ggk/faults.py``).
    faults: Faults | None = None


class MockGgk:
    """The state of one mock: its rules, its ledger, its aanbieders' log and its pending callbacks."""

    def __init__(self, config: MockGgkConfig) -> None:
        self.config = config
        self.rules = RuleBook(config.behaviours)
        self.faults = FaultInjector(config.faults)
        self.ledger = Ledger()
        self.aanbieder = AanbiederLog()
        self._tasks: set[asyncio.Task[None]] = set()
        #: One client for every callback, the loop it belongs to and the slots of
        #: concurrent posts (see :meth:`_client`).
        self._callback_client: CallbackClient | None = None
        self._bv03 = Bv03Templates()

    def reset(self) -> None:
        """Forget rules, ledger and log (pending callbacks are cancelled by ``POST /_mock/reset``)."""
        self.rules.reset()
        self.faults.reset()
        self.ledger.reset()
        self.aanbieder.reset()

    def cancel_pending(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _client(self) -> CallbackClient:
        """The callback client of the running loop, made on first use.

        One client for all callbacks: a new client per callback opens a new TCP
        connection per retour (and, with httpx, built a fresh SSL context each time,
        ~80% of the mock's CPU in the round-trip bench). At most ``CALLBACK_SLOTS``
        posts are in flight at once; the others wait for a slot. The timeout is passed
        per request, from the config in force.
        """
        loop = asyncio.get_running_loop()
        if self._callback_client is None or self._callback_client.loop is not loop:
            self._callback_client = CallbackClient(loop)
        return self._callback_client

    async def aclose(self) -> None:
        """Close the callback client (at the app's shutdown)."""
        if self._callback_client is not None:
            client, self._callback_client = self._callback_client, None
            await client.aclose()

    # --- the SOAP endpoint -----------------------------------------------------------------------

    async def handle_soap(self, body: bytes, soap_action: str | None) -> Response:
        try:
            inbound = parse_soap_request(body, soap_action)
        except EnvelopeError as exc:
            self.ledger.seen(
                referentienummer=None,
                operation="unknown",
                functie=None,
                zender=None,
                ontvanger=None,
                outcome=f"fo03:{exc.code}",
            )
            return _fault(exc)
        if inbound.operation == "Fo01":
            return self._take_fo01(inbound.element)
        try:
            envelope = parse_envelope(inbound.element)
        except EnvelopeError as exc:
            ref = _peek(inbound.element, "referentienummer")
            self.ledger.seen(
                referentienummer=ref,
                operation=inbound.operation,
                functie=_peek(inbound.element, "functie"),
                zender=None,
                ontvanger=None,
                outcome=f"fo03:{exc.code}",
            )
            return _fault(exc, cross_ref=ref or "")
        ref = envelope.referentienummer
        sender, receiver = envelope.zender.organisatie, envelope.ontvanger.organisatie
        meta: dict[str, Any] = {
            "referentienummer": ref,
            "operation": inbound.operation,
            "functie": envelope.functie,
            "zender": sender,
            "ontvanger": receiver,
            "bericht_identificatie": envelope.referentienummer_bericht,
            "payload_sha256": hashlib.sha256(envelope.payload).hexdigest(),
        }

        refusal: EnvelopeError | None = None
        if not is_gemeentecode(sender):
            refusal = EnvelopeError.of("IB213", f"zender {sender[:20]!r} is not a gemeentecode")
        elif not is_mock_agb(receiver) and party(receiver) is None:
            refusal = EnvelopeError.of("IB210", f"ontvanger {receiver[:20]!r} is not a known AGB code")
        elif self.ledger.is_accepted(ref):
            self.ledger.count_duplicate(ref)
            log.info("mock_ggk_duplicate", referentienummer=ref, functie=envelope.functie)
            return _fault(EnvelopeError.of("IB016", ref), cross_ref=ref, ontvanger=envelope.zender)
        if refusal is not None:
            self.ledger.seen(**meta, outcome=f"fo03:{refusal.code}")
            return _fault(refusal, cross_ref=ref, ontvanger=envelope.zender)

        self.ledger.seen(**meta, outcome="received")
        fault = self.faults.draw(receiver)
        if fault.kind == "error_5xx":
            self.ledger.update(ref, outcome=f"failed:{fault.status}")
            return _unavailable(fault.status)
        if fault.kind == "ggk_error":
            self.ledger.update(ref, outcome=f"fo03:{fault.ggk_code}")
            return _fault(EnvelopeError.of(fault.ggk_code), cross_ref=ref, ontvanger=envelope.zender)
        behaviour = self.rules.take(receiver)
        if behaviour.mode == "fail":
            self.ledger.update(ref, outcome=f"failed:{behaviour.status}")
            return _unavailable(behaviour.status)
        if behaviour.mode == "ggk_error":
            self.ledger.update(ref, outcome=f"fo03:{behaviour.ggk_code}")
            return _fault(EnvelopeError.of(behaviour.ggk_code), cross_ref=ref, ontvanger=envelope.zender)

        self.ledger.update(ref, accepted=True, outcome="accepted")
        log.info("mock_ggk_accepted", referentienummer=ref, functie=envelope.functie, mode=behaviour.mode)
        # Parsing is CPU work: off the event loop. Recorded before the Bv03, so a test sees it at once.
        if isinstance(envelope, Retourbericht):
            await asyncio.to_thread(self.aanbieder.record_du01, envelope, now=datetime.now())
        elif envelope.functie.upper().endswith("319"):
            await asyncio.to_thread(self._record_antwoord, envelope)
        if isinstance(envelope, Heenbericht):
            if behaviour.mode == "no_retour":
                self.ledger.update(ref, outcome="no_retour")
            else:
                self._spawn(self._answer_later(envelope, behaviour, fault))
        answer = self._bv03.render(envelope.zender, ref)
        if behaviour.mode == "timeout":
            await asyncio.sleep(behaviour.delay_s)
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.kind == "drop":
            return DropConnection()
        return Response(answer, media_type=_SOAP_MEDIA_TYPE)

    def _take_fo01(self, element: etree._Element) -> Response:
        try:
            fo01 = parse_fo01(element)
        except EnvelopeError as exc:
            self.ledger.seen(
                referentienummer=None,
                operation="Fo01",
                functie=None,
                zender=None,
                ontvanger=None,
                outcome=f"fo03:{exc.code}",
            )
            return _fault(exc)
        self.ledger.seen(
            referentienummer=fo01.referentienummer,
            operation="Fo01",
            functie=None,
            zender=fo01.zender.organisatie,
            ontvanger=fo01.ontvanger.organisatie,
            outcome=f"accepted:{fo01.code}",
        )
        self.ledger.update(fo01.referentienummer, accepted=True)
        self.aanbieder.record_fo01(fo01, now=datetime.now())
        answer = self._bv03.render(fo01.zender, fo01.referentienummer)
        return Response(answer, media_type=_SOAP_MEDIA_TYPE)

    def _record_antwoord(self, h: Heenbericht) -> None:
        """Record a 319 for ``/_mock/aanbieder/antwoorden``; an invalid one earns a Fo01 later instead."""
        try:
            self.aanbieder.record_antwoord(h, parse_antwoord(h.payload))
        except PayloadRejected:
            return

    # --- the aanbieder's asynchronous answer -----------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_later(self, h: Heenbericht, behaviour: Behaviour, fault: Draw = CLEAN) -> None:
        await asyncio.sleep(self.config.retour_delay_s)
        ref = h.referentienummer
        try:
            other = party(h.ontvanger.organisatie)
            if other is None:
                # An aanbieder's answer to one 301/319 is a fraction of a millisecond of
                # CPU: done on the loop, as a handoff to a worker thread and back cost
                # about as much again in the round-trip bench.
                answer = answer_heenbericht(h, behaviour, now=datetime.now())
            else:
                # A party's bulk message (a TKB of thousands of budgets) would hold up
                # every other request: off the event loop.
                answer = await asyncio.to_thread(other.answer, h, behaviour, now=datetime.now())
        except Exception as exc:  # a bug in the mock must not kill the server; make it visible
            log.error("mock_ggk_answer_failed", referentienummer=ref, error_type=type(exc).__name__)
            self.ledger.update(ref, outcome="aanbieder_error")
            return
        if answer is None:
            self.ledger.update(ref, outcome="no_retour")
            return
        # Known before it is posted: the gemeente may have processed it before the post returns.
        self.ledger.update(ref, retour_referentienummer=answer.referentienummer)
        result = await self._deliver(answer)
        self.ledger.update(ref, retours_delivered=0 if result is not None else 1)
        # A ``duplicate_retour`` fault: the aanbieder's system sends the same Du01 once more.
        if result is None and fault.duplicate_retour and await self._deliver(answer) is None:
            self.ledger.update(ref, retours_delivered=2)
        self.ledger.callback_done(result is None)
        self.ledger.update(ref, outcome=answer.outcome if result is None else result)

    async def _deliver(self, answer: Answer) -> str | None:
        """Post ``answer`` until the gateway answers Bv03; ``None`` when delivered, else why not."""
        cfg = self.config
        reason = "callback_failed:no_attempt"
        callback = self._client()
        for attempt in range(cfg.callback_attempts):
            if attempt:
                await asyncio.sleep(
                    min(cfg.callback_backoff_s * 2 ** (attempt - 1), cfg.callback_backoff_max_s)
                )
            try:
                response = await callback.post(
                    cfg.callback_url, answer.body, answer.headers, timeout=cfg.callback_timeout_s
                )
            except httpx.HTTPError as exc:
                reason = f"callback_failed:{type(exc).__name__}"
                continue
            result = parse_soap_response(response.status_code, response.content)
            if result.accepted:
                log.info("mock_ggk_callback_delivered", operation=answer.operation, attempt=attempt + 1)
                return None
            reason = f"callback_refused:{result.code or result.kind}:{response.status_code}"
            if not result.retryable:
                break
        log.warning("mock_ggk_callback_gave_up", operation=answer.operation, reason=reason)
        return reason


def create_app(config: MockGgkConfig) -> FastAPI:
    """The mock GGk as an ASGI app; its state is ``app.state.ggk`` (:class:`MockGgk`)."""
    mock = MockGgk(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        mock.cancel_pending()
        await mock.aclose()

    app = _MockGgkApp(mock, title="Mock GGk + aanbieders", lifespan=lifespan)
    app.state.ggk = mock
    app.include_router(aanbieder_router(mock))
    for receiver in PARTY_MODULES:
        module = party(receiver)
        make_router = getattr(module, "make_router", None)
        if make_router is not None:
            # ``make_router(mock) -> APIRouter``: the party's admin endpoints (e.g. /_mock/svb).
            app.include_router(make_router(mock))

    @app.post(SOAP_PATH)
    async def soap(request: Request) -> Response:
        """The SOAP endpoint through FastAPI: only when mounted under another app (see ``_MockGgkApp``)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_ENVELOPE_BYTES:
            return _fault(EnvelopeError.of("IB007", f"request is {declared} bytes"))
        response = await mock.handle_soap(await request.body(), request.headers.get("soapaction"))
        if isinstance(response, DropConnection) and not drop_connection(request.receive):
            # A server that cannot hang up (an in-process test client): the nearest thing.
            return Response(b"", status_code=502)
        return response

    @app.put("/_mock/behaviour")
    def put_behaviour(behaviour: Behaviour) -> dict[str, Any]:
        mock.rules.set(behaviour)
        return {"behaviours": [b.model_dump() for b in mock.rules.current()]}

    @app.get("/_mock/behaviour")
    def get_behaviour() -> dict[str, Any]:
        return {"behaviours": [b.model_dump() for b in mock.rules.current()]}

    @app.put("/_mock/faults")
    def put_faults(faults: Faults) -> dict[str, Any]:
        mock.faults.set(faults)
        return mock.faults.state()

    @app.get("/_mock/faults")
    def get_faults() -> dict[str, Any]:
        return mock.faults.state()

    @app.delete("/_mock/faults")
    def heal() -> dict[str, Any]:
        mock.faults.heal()
        return mock.faults.state()

    @app.post("/_mock/reset")
    def reset() -> dict[str, str]:
        mock.cancel_pending()
        mock.reset()
        return {"status": "reset"}

    @app.get("/_mock/received")
    def received() -> list[dict[str, Any]]:
        return mock.ledger.listing()

    @app.get("/_mock/stats")
    def stats() -> dict[str, int]:
        return mock.ledger.stats()

    @app.get("/_mock/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "aanbieders": MOCK_AANBIEDERS}

    return app


class _MockGgkApp(FastAPI):
    """FastAPI for the admin endpoints; ``POST /ggk/soap`` answered as plain ASGI.

    Every message of a bench or fault run passes the SOAP endpoint, and FastAPI's way
    there - six middlewares, the router, a Request, the endpoint's dependency solving -
    cost more CPU than the mock's own checks of the envelope. The endpoint takes no
    parameters FastAPI could validate (the body is XML, checked by the mock itself), so
    it is served here directly; the FastAPI route stays for a mounted app, whose paths
    carry a prefix.
    """

    def __init__(self, mock: MockGgk, **options: Any) -> None:
        super().__init__(**options)
        self._mock = mock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SOAP_PATH and scope["method"] == "POST":
            await _serve_soap(self._mock, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _serve_soap(mock: MockGgk, scope: Scope, receive: Receive, send: Send) -> None:
    """What the ``/ggk/soap`` route does, over the raw ASGI messages."""
    declared: bytes | None = None
    soap_action: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = value
        elif name == b"soapaction":
            soap_action = value.decode("latin-1")
    if declared is not None and declared.isdigit() and int(declared) > MAX_ENVELOPE_BYTES:
        response: Response = _fault(EnvelopeError.of("IB007", f"request is {declared.decode()} bytes"))
    else:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        response = await mock.handle_soap(body, soap_action)
        if isinstance(response, DropConnection):
            # Hung up (what follows is discarded, as in the FastAPI route); a server that
            # cannot hang up (an in-process test client) gets the empty 502 as the nearest thing.
            drop_connection(receive)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


class DropConnection(Response):
    """Marker: hang up without an answer (the ``drop`` fault); see :func:`drop_connection`."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=502)


def _fault(exc: EnvelopeError, *, cross_ref: str = "", ontvanger: Systeem | None = None) -> Response:
    body = render_fo03_fault(exc.code, exc.plek, exc.omschrijving, ontvanger=ontvanger, cross_ref=cross_ref)
    return Response(body, status_code=500, media_type=_SOAP_MEDIA_TYPE)


def _unavailable(status: int) -> Response:
    """A plain SOAP fault without Fo03: the GGk is not there, the message was not taken in."""
    body = (
        b"<?xml version='1.0' encoding='UTF-8'?>"
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Service unavailable</faultstring>"
        b"</soap:Fault></soap:Body></soap:Envelope>"
    )
    return Response(body, status_code=status, media_type=_SOAP_MEDIA_TYPE)


def _peek(element: etree._Element, name: str) -> str | None:
    """Best-effort read of a stuurgegevens field of an envelope that failed validation."""
    text = element.findtext(f"{{*}}stuurgegevens/{{{STUF_NS}}}{name}")
    return text.strip()[:40] if text else None
