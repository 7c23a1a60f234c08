"""A stand-in for the gateway's ``/corv/ebms`` endpoint, for the mock CORV hub's tests.

It does what the contract asks of the gateway, minimally: dedup by MessageId (same
response again), ack + Bv01 for a Di01, ack + Fo03 StUF016 for a duplicate
zender+referentienummer, a plain ack for a Bv01/Fo01. It can drop acks (503) or answer
a MessageError, so the hub's retrying can be observed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from connectors.corv import STUF_DUPLICATE, Fout, StufAnswer, bv01, fo03, parse_message, render_answer
from connectors.ebms import (
    MessageHeader,
    MessageKind,
    ValueNotRecognized,
    build_ack,
    build_message_error,
)
from connectors.ebms import (
    parse_message as parse_ebms,
)
from mocks.corv import MockCorvConfig, create_app
from tests.live_server import live_server

PUBLISHED = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "reference"
    / "corv"
    / "jz0100-1.0.9"
    / "jz0100_msg_jzberichten_resolved2025.xsd"
).resolve()


@dataclass
class Delivery:
    header: MessageHeader
    stuf: bytes


@dataclass
class Gateway:
    """Records every delivery (duplicates included) and answers as the gateway would."""

    deliveries: list[Delivery] = field(default_factory=list)
    responses: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    refs: set[tuple[str, str]] = field(default_factory=set)
    drop_next: int = 0
    refuse_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/corv/ebms")
        async def ebms(request: Request) -> Response:
            body = await request.body()
            with parse_ebms(request.headers.get("content-type"), body) as message:
                if message.kind is not MessageKind.USER:
                    return Response(b"", status_code=200)
                assert message.header is not None and message.payload is not None
                header, stuf = message.header, message.payload.read()
            with self.lock:
                self.deliveries.append(Delivery(header, stuf))
                if self.refuse_next:
                    self.refuse_next -= 1
                    content_type, answer = build_message_error(ValueNotRecognized("refused"), received=header)
                    return Response(answer, media_type=content_type)
                if self.drop_next:
                    self.drop_next -= 1
                    return Response(b"", status_code=503)
                if header.message_id not in self.responses:
                    self.responses[header.message_id] = self._answer(header, stuf)
                content_type, answer = self.responses[header.message_id]
            return Response(answer, media_type=content_type)

        return app

    def _answer(self, header: MessageHeader, stuf: bytes) -> tuple[str, bytes]:
        parsed = parse_message(stuf)
        if isinstance(parsed, StufAnswer):
            return build_ack(header)
        sg = parsed.stuurgegevens
        key = (sg.zender.organisatie, sg.referentienummer)
        if key in self.refs:
            fout = Fout(code=STUF_DUPLICATE, omschrijving="dubbel")
            return build_ack(header, stuf_answer=render_answer(fo03(sg, fout)))
        self.refs.add(key)
        return build_ack(header, stuf_answer=render_answer(bv01(sg)))

    def of_action(self, action: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.header.action == action]


@dataclass
class Setup:
    base_url: str
    gateway: Gateway
    http: httpx.Client

    def post_ebms(self, content_type: str, body: bytes) -> httpx.Response:
        return self.http.post(
            f"{self.base_url}/corv/ebms",
            content=body,
            headers={"Content-Type": content_type, "SOAPAction": '"ebXML"'},
        )

    def control(self, method: str, path: str, json: object = None) -> Any:
        response = self.http.request(method, f"{self.base_url}/_mock/corv/{path}", json=json)
        response.raise_for_status()
        return response.json()


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = 10.0) -> None:
    """Poll until ``condition()`` is truthy (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


@contextmanager
def serve_mock(**config: Any) -> Iterator[Setup]:
    """The mock hub on loopback, its ``callback_url`` pointing at a :class:`Gateway` stand-in."""
    gateway = Gateway()
    with live_server(gateway.app()) as gateway_url:
        settings = MockCorvConfig(
            callback_url=f"{gateway_url}/corv/ebms",
            answer_delay_s=0.05,
            callback_backoff_s=0.05,
            callback_backoff_max_s=0.1,
            published_schema=str(PUBLISHED) if PUBLISHED.is_file() else None,
            **config,
        )
        with live_server(create_app(settings)) as base_url, httpx.Client(timeout=30) as http:
            yield Setup(base_url, gateway, http)
