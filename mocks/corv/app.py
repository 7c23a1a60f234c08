"""The mock CORV hub as a FastAPI app: ``POST /corv/ebms`` and ``/_mock/corv/...``.

It behaves like the CORV compliance test platform (see ``mocks/corv/README.md``): a
correct VTO gets ack + Bv01, an incorrect one ack and later a Fo01; the hub sends
notificaties, notificatiejr and zorgmeldingen on request and records the gateway's
answers; faults (dropped acks, 5xx, MessageError, delay) are steerable.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel

from connectors.corv import message_name
from connectors.ebms import NotSupported, build_message_error
from mocks.corv.config import Behaviour, MockCorvConfig
from mocks.corv.hub import Hub
from mocks.corv.messages import (
    NotificatiejrRequest,
    NotificatieRequest,
    SeriesRequest,
    ZorgmeldingRequest,
    notificatie,
    notificatiejr,
    series,
    zorgmelding,
)
from mocks.corv.outbox import Outgoing

_SPOOL_BYTES = 1024 * 1024


class DuplicateRequest(BaseModel):
    """Resend the hub's last Di01: ``same_message_id`` (an ebMS retry, same bytes) or
    ``same_referentienummer`` (the same StUF under a new MessageId: expect Fo03 StUF016)."""

    mode: str = "same_message_id"


class RawRequest(BaseModel):
    """Send any StUF text (e.g. one that fails the XSD) as a user message."""

    stuf: str
    action: str | None = None


def create_app(config: MockCorvConfig) -> FastAPI:
    """The mock hub; its state is ``app.state.corv`` (:class:`~mocks.corv.hub.Hub`)."""
    hub = Hub(config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        hub.outbox.cancel_pending()

    app = FastAPI(title="Mock CORV hub", lifespan=lifespan)
    app.state.corv = hub

    @app.post("/corv/ebms")
    async def ebms(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > config.max_body_bytes:
            error = NotSupported(
                f"message body of {declared} bytes is larger than the limit of {config.max_body_bytes}"
            )
            hub.ledger.refuse(error.error_code, error.description, None)
            content_type, body = build_message_error(error)
            return Response(body, media_type=content_type)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > config.max_body_bytes:
                    error = NotSupported(
                        f"message body is larger than the limit of {config.max_body_bytes} bytes"
                    )
                    hub.ledger.refuse(error.error_code, error.description, None)
                    content_type, body = build_message_error(error)
                    return Response(body, media_type=content_type)
                spool.write(chunk)
            spool.seek(0)
            reply = await hub.receive(request.headers.get("content-type"), spool)
        return Response(reply.body, status_code=reply.status, media_type=reply.content_type)

    async def _send(stuf: bytes, action: str | None = None) -> dict[str, Any]:
        name = action or message_name(stuf)
        from connectors.corv import parse_message

        try:
            referentienummer = parse_message(stuf).stuurgegevens.referentienummer
        except Exception:  # a deliberately invalid message: no referentienummer to record
            referentienummer = None
        outgoing = hub.outbox.render(name, stuf, referentienummer=referentienummer)
        return asdict(await hub.outbox.send(outgoing))

    @app.post("/_mock/corv/send/notificatie")
    async def send_notificatie(body: NotificatieRequest) -> dict[str, Any]:
        return await _send(notificatie(body, config.hub_oin, config.gemeente_oin))

    @app.post("/_mock/corv/send/ambtshalve")
    async def send_ambtshalve(body: NotificatieRequest) -> dict[str, Any]:
        body = body.model_copy(update={"zaak_identificatie": None})
        return await _send(notificatie(body, config.hub_oin, config.gemeente_oin))

    @app.post("/_mock/corv/send/notificaties")
    async def send_series(body: SeriesRequest) -> list[dict[str, Any]]:
        return [await _send(notificatie(step, config.hub_oin, config.gemeente_oin)) for step in series(body)]

    @app.post("/_mock/corv/send/notificatiejr")
    async def send_notificatiejr(body: NotificatiejrRequest) -> dict[str, Any]:
        return await _send(notificatiejr(body, config.hub_oin, config.gemeente_oin))

    @app.post("/_mock/corv/send/zorgmelding")
    async def send_zorgmelding(body: ZorgmeldingRequest) -> dict[str, Any]:
        return await _send(zorgmelding(body, config.hub_oin, config.gemeente_oin))

    @app.post("/_mock/corv/send/raw")
    async def send_raw(body: RawRequest) -> dict[str, Any]:
        return await _send(body.stuf.encode("utf-8"), body.action or "notificatieDi01")

    @app.post("/_mock/corv/send/duplicate")
    async def send_duplicate(body: DuplicateRequest) -> dict[str, Any]:
        last = hub.outbox.last
        if last is None:
            raise HTTPException(409, "the hub has sent nothing yet")
        if body.mode == "same_message_id":
            return asdict(await hub.outbox.send(last, resend=True))
        if body.mode == "same_referentienummer":
            again: Outgoing = hub.outbox.render(
                last.header.action, last.stuf, referentienummer=last.referentienummer
            )
            return asdict(await hub.outbox.send(again))
        raise HTTPException(422, "mode is same_message_id or same_referentienummer")

    @app.get("/_mock/corv/received")
    def received() -> dict[str, Any]:
        return hub.ledger.listing()

    @app.get("/_mock/corv/sent")
    def sent() -> list[dict[str, Any]]:
        return hub.ledger.sent_listing()

    @app.get("/_mock/corv/vtos")
    def vtos() -> list[dict[str, Any]]:
        return [
            {
                "message_id": message_id,
                "referentienummer": vto.stuurgegevens.referentienummer,
                "zaak_identificatie": vto.zaak_identificatie,
                "urgentie": str(vto.urgentie),
                "kinderen": len(vto.kinderen),
                "belanghebbenden": [b.rol for b in vto.belanghebbenden],
                "documenten": [{"soort": str(d.soort), "bytes": len(d.content)} for d in vto.documenten],  # type: ignore[arg-type]
            }
            for message_id, vto in hub.vtos.items()
        ]

    @app.get("/_mock/corv/terugkoppelingen")
    def terugkoppelingen() -> list[dict[str, Any]]:
        return [
            {
                "message_id": message_id,
                "referentienummer": t.stuurgegevens.referentienummer,
                "zaak_identificatie": t.zaak_identificatie,
                "zorgmelding_kenmerk": t.zorgmelding_kenmerk,
                "resultaat": str(t.resultaat),
            }
            for message_id, t in hub.terugkoppelingen.items()
        ]

    @app.get("/_mock/corv/behaviour")
    def get_behaviour() -> dict[str, Any]:
        return hub.behaviour.model_dump()

    @app.put("/_mock/corv/behaviour")
    def put_behaviour(body: Behaviour) -> dict[str, Any]:
        hub.behaviour = hub.behaviour.model_copy(update=body.model_dump(exclude_unset=True))
        return hub.behaviour.model_dump()

    @app.delete("/_mock/corv/behaviour")
    def clear_behaviour() -> dict[str, Any]:
        hub.behaviour = Behaviour()
        return hub.behaviour.model_dump()

    @app.post("/_mock/corv/reset")
    def reset() -> dict[str, str]:
        hub.reset()
        return {"status": "reset"}

    @app.get("/_mock/corv/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "hub_oin": config.hub_oin, "gemeente_oin": config.gemeente_oin}

    return app
