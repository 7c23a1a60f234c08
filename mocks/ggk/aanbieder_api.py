"""Admin endpoints through which tests make a mock aanbieder send, and read what it got back.

- ``POST /_mock/aanbieder/{agb}/send``: post a heenbericht (305/307/315/317/323, or a raw
  payload) in a Di01 to the gateway, synchronously, and report its Bv03/Fo03;
- ``GET /_mock/aanbieder/retouren`` and ``.../retouren/{referentienummer}``: the gemeente's
  answers (Du01 retour or Fo01) by the referentienummer of the Di01 they answer;
- ``GET /_mock/aanbieder/sent``: what was sent, with the synchronous answer;
- ``GET /_mock/aanbieder/antwoorden``: the 319 Antwoordberichten received.

The send goes straight to ``callback_url`` - the GGk's delivery of the aanbieder's
message - without the retry loop of the mock's own retours: a test that sends wants to
see the gateway's synchronous answer, a refusal included.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse

from connectors.ggk import parse_soap_response
from mocks.ggk.retouren import Sent
from mocks.ggk.sending import SendError, SendRequest, build_di01

if TYPE_CHECKING:
    from mocks.ggk.app import MockGgk

log = structlog.get_logger("mocks.ggk")


def aanbieder_router(mock: MockGgk) -> APIRouter:
    """The ``/_mock/aanbieder`` endpoints over ``mock``'s configuration and aanbieder log."""
    router = APIRouter(prefix="/_mock/aanbieder")

    @router.post("/{agb}/send")
    async def send(request: SendRequest, agb: str = Path(pattern=r"^[0-9]{8}$")) -> JSONResponse:
        cfg = mock.config
        try:
            outgoing = build_di01(agb, request, default_gemeentecode=cfg.gemeentecode, now=datetime.now())
        except SendError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        result: dict[str, Any] = {
            "referentienummer": outgoing.referentienummer,
            "bericht_identificatie": outgoing.bericht_identificatie,
            "functie": outgoing.functie,
        }
        record = Sent(
            referentienummer=outgoing.referentienummer,
            agb=agb,
            gemeentecode=outgoing.gemeentecode,
            functie=outgoing.functie,
            bericht_identificatie=outgoing.bericht_identificatie,
        )
        mock.aanbieder.sent(record)
        ref = outgoing.referentienummer
        try:
            async with httpx.AsyncClient(timeout=cfg.callback_timeout_s) as client:
                response = await client.post(
                    cfg.callback_url, content=outgoing.body, headers=outgoing.headers
                )
        except httpx.HTTPError as exc:
            mock.aanbieder.sent_result(ref, status_code=None, answer="unreachable", code=type(exc).__name__)
            log.warning("mock_aanbieder_send_failed", functie=outgoing.functie, error=type(exc).__name__)
            return JSONResponse(
                {**result, "status_code": None, "answer": "unreachable", "code": type(exc).__name__},
                status_code=502,
            )
        answer = parse_soap_response(response.status_code, response.content)
        mock.aanbieder.sent_result(
            ref, status_code=response.status_code, answer=answer.kind, code=answer.code
        )
        log.info(
            "mock_aanbieder_sent",
            functie=outgoing.functie,
            referentienummer=outgoing.referentienummer,
            answer=answer.kind,
        )
        return JSONResponse(
            {**result, "status_code": response.status_code, "answer": answer.kind, "code": answer.code}
        )

    @router.get("/sent")
    def sent() -> list[dict[str, Any]]:
        return mock.aanbieder.sent_listing()

    @router.get("/retouren")
    def retouren() -> list[dict[str, Any]]:
        return mock.aanbieder.answers()

    @router.get("/retouren/{referentienummer}")
    def retour(referentienummer: str) -> dict[str, Any]:
        found = mock.aanbieder.answer_to(referentienummer)
        if found is None:
            raise HTTPException(status_code=404, detail="no answer (yet) to that referentienummer")
        return found

    @router.get("/antwoorden")
    def antwoorden() -> list[dict[str, Any]]:
        return mock.aanbieder.antwoorden()

    return router
