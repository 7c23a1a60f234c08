"""The mock hub's sending side: its own user messages to the gateway, retried until
acknowledged (same MessageId, same bytes), as CORV's reliable messaging does."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from connectors.corv import StufAnswer, StufError, parse_message
from connectors.ebms import (
    SOAP_ACTION_HEADER,
    EbmsError,
    MessageHeader,
    MessageKind,
    Payload,
    build_user_message,
)
from connectors.ebms import parse_message as parse_ebms
from mocks.corv.config import MockCorvConfig
from mocks.corv.ledger import Ledger, Sent

log = structlog.get_logger("mocks.corv")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A rendered user message, kept to resend it byte for byte."""

    header: MessageHeader
    stuf: bytes
    referentienummer: str | None
    content_type: str
    body: bytes


class Outbox:
    def __init__(self, config: MockCorvConfig, ledger: Ledger) -> None:
        self.config = config
        self.ledger = ledger
        self.messages: dict[str, Outgoing] = {}
        self.last: Outgoing | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resends = 0

    def reset(self) -> None:
        self.cancel_pending()
        self.messages.clear()
        self.last = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_pending(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def render(
        self,
        action: str,
        stuf: bytes,
        *,
        referentienummer: str | None,
        ref_to_message_id: str | None = None,
        conversation_id: str | None = None,
    ) -> Outgoing:
        cfg = self.config
        header = MessageHeader.new(
            from_party=cfg.hub_oin,
            to_party=cfg.gemeente_oin,
            cpa_id=cfg.cpa_id,
            action=action,
            ref_to_message_id=ref_to_message_id,
            conversation_id=conversation_id,
            host="mock-corv",
        )
        content_type, body = build_user_message(header, [Payload(stuf)])
        return Outgoing(header, stuf, referentienummer, content_type, body)

    async def send(self, outgoing: Outgoing, *, resend: bool = False) -> Sent:
        """Deliver ``outgoing`` until acked/refused/given up; the record of this delivery."""
        header = outgoing.header
        key = header.message_id
        if resend:
            self._resends += 1
            key = f"{header.message_id}#resend-{self._resends}"
        sent = Sent(
            message_id=header.message_id,
            action=header.action,
            referentienummer=outgoing.referentienummer,
            ref_to_message_id=header.ref_to_message_id,
        )
        self.ledger.sent[key] = sent
        self.messages[header.message_id] = outgoing
        if header.action not in ("Fo01", "Bv01"):
            self.last = outgoing
        await self._deliver(sent, outgoing)
        return sent

    async def _deliver(self, sent: Sent, outgoing: Outgoing) -> None:
        cfg = self.config
        headers = {"Content-Type": outgoing.content_type, SOAP_ACTION_HEADER[0]: SOAP_ACTION_HEADER[1]}
        async with httpx.AsyncClient(timeout=cfg.callback_timeout_s) as client:
            for attempt in range(cfg.callback_attempts):
                if sent.status != "pending":
                    return
                if attempt:
                    await asyncio.sleep(
                        min(cfg.callback_backoff_s * 2 ** (attempt - 1), cfg.callback_backoff_max_s)
                    )
                sent.attempts += 1
                try:
                    response = await client.post(cfg.callback_url, content=outgoing.body, headers=headers)
                except httpx.HTTPError:
                    continue
                sent.last_http_status = response.status_code
                if self._take_response(sent, response):
                    return
        if sent.status == "pending":
            sent.status = "gave_up"
            log.warning("mock_corv_gave_up", action=sent.action, attempts=sent.attempts)

    def _take_response(self, sent: Sent, response: httpx.Response) -> bool:
        """Whether the response settles the message (an ack or a MessageError)."""
        if not response.content:
            return False
        try:
            with parse_ebms(response.headers.get("content-type"), response.content) as answer:
                if answer.kind is MessageKind.ERROR:
                    error = answer.first_error()
                    sent.status = "refused"
                    sent.ebms_error = error.error_code if error else "Unknown"
                    return True
                if answer.kind is not MessageKind.ACK or answer.acked_message_id != sent.message_id:
                    return False
                sent.status = "acked"
                if answer.payload is not None:
                    self._record_answer(sent, answer.payload.read())
                return True
        except EbmsError:
            return False

    @staticmethod
    def _record_answer(sent: Sent, stuf: bytes) -> None:
        try:
            parsed = parse_message(stuf)
        except StufError as exc:
            sent.answer_berichtcode, sent.answer_code = "invalid", exc.code
            return
        if isinstance(parsed, StufAnswer):
            sent.answer_berichtcode = parsed.berichtcode
            if parsed.fout is not None:
                sent.answer_code, sent.answer_omschrijving = parsed.fout.code, parsed.fout.omschrijving

    # --- asynchronous arrivals -------------------------------------------------------------

    def on_async_ack(self, message_id: str) -> None:
        for sent in self.ledger.sent.values():
            if sent.message_id == message_id and sent.status == "pending":
                sent.status = "acked"

    def on_async_error(self, message_id: str | None, code: str) -> None:
        for sent in self.ledger.sent.values():
            if sent.message_id == message_id and sent.status == "pending":
                sent.status, sent.ebms_error = "refused", code

    def on_stuf_answer(self, answer: StufAnswer) -> None:
        """An asynchronous Bv01/Fo01 from the gateway: attach it to what it answers."""
        for sent in self.ledger.sent.values():
            if sent.referentienummer and sent.referentienummer == answer.stuurgegevens.cross_refnummer:
                sent.answer_berichtcode = answer.berichtcode
                if answer.fout is not None:
                    sent.answer_code, sent.answer_omschrijving = answer.fout.code, answer.fout.omschrijving
