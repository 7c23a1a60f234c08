"""The mock CORV hub's receiving side: what ``POST /corv/ebms`` does.

Order, as a real hub: the ebMS level first (parse, addressing, CPA, dedup by MessageId
- a duplicate gets the very same response again and is not processed twice), then the
StUF level (the published XSD and the Raad's checks, StUF016 for a duplicate
zender+referentienummer under a new MessageId). Faults from :class:`Behaviour` are
applied around that.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import structlog
from lxml import etree

from connectors.corv import (
    STUF_DUPLICATE,
    Fout,
    StufAnswer,
    StufError,
    Stuurgegevens,
    Terugkoppeling,
    Vto,
    bv01,
    fo01,
    fo03,
    render_answer,
)
from connectors.corv.parse import load_message, message_of
from connectors.corv.vto import check_rules
from connectors.ebms import (
    CORV_SERVICE,
    EbmsError,
    ErrorItem,
    MessageHeader,
    MessageKind,
    NotSupported,
    ReceivedMessage,
    ValueNotRecognized,
    build_ack,
    build_message_error,
)
from connectors.ebms import (
    parse_message as parse_ebms,
)
from connectors.xsd import load_schema, violations
from mocks.corv.config import UNKNOWN_CHILD_BSN, Behaviour, MockCorvConfig
from mocks.corv.ledger import Ledger, Received
from mocks.corv.outbox import Outbox

log = structlog.get_logger("mocks.corv")

#: What the gateway may send to the hub.
ACCEPTED_ACTIONS = ("vtoDi01", "zorgmeldingTerugkoppelingDi01", "Bv01", "Fo01", "Fo03")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes


class Hub:
    """State and receiving logic of one mock hub; sending is in :mod:`mocks.corv.outbox`."""

    def __init__(self, config: MockCorvConfig) -> None:
        self.config = config
        self.behaviour = Behaviour()
        self.ledger = Ledger()
        self.vtos: dict[str, Vto] = {}  # by ebMS MessageId
        self.terugkoppelingen: dict[str, Terugkoppeling] = {}
        self.answers_received: list[StufAnswer] = []
        self.outbox = Outbox(config, self.ledger)
        self._loop: asyncio.AbstractEventLoop | None = None

    def reset(self) -> None:
        self.outbox.reset()
        self.behaviour = Behaviour()
        self.ledger.reset()
        self.vtos.clear()
        self.terugkoppelingen.clear()
        self.answers_received.clear()

    # --- the endpoint -----------------------------------------------------------------

    async def receive(self, content_type: str | None, body: IO[bytes]) -> Reply:
        self._loop = asyncio.get_running_loop()
        b = self.behaviour
        if b.delay_s:
            await asyncio.sleep(b.delay_s)
        if b.fail_5xx:
            b.fail_5xx -= 1
            return Reply(b.fail_status, "text/plain", b"service unavailable")
        try:
            message = await asyncio.to_thread(
                parse_ebms,
                content_type,
                body,
                max_bytes=self.config.max_body_bytes,
                own_party=self.config.hub_oin,
            )
        except EbmsError as exc:
            self.ledger.refuse(exc.error_code, exc.description, None)
            log.info("mock_corv_refused", error_code=exc.error_code)
            return _reply(*build_message_error(exc))
        with message:
            return await self._take(message)

    async def _take(self, message: ReceivedMessage) -> Reply:
        header = message.header
        if message.kind is MessageKind.ACK:
            assert message.acked_message_id is not None
            self.outbox.on_async_ack(message.acked_message_id)
            return Reply(200, "text/plain", b"")
        if message.kind is MessageKind.ERROR:
            error = message.first_error()
            ref = header.ref_to_message_id if header else None
            self.outbox.on_async_error(ref, error.error_code if error else "Unknown")
            return Reply(200, "text/plain", b"")
        assert header is not None
        try:
            self._check_header(header)
        except EbmsError as exc:
            self.ledger.refuse(exc.error_code, exc.description, header.message_id)
            return _reply(*build_message_error(exc, received=header))
        earlier = self.ledger.seen(header.message_id)
        if earlier is not None:
            log.info("mock_corv_duplicate_message_id", action=header.action, deliveries=earlier.deliveries)
            return self._maybe_drop(
                Reply(earlier.response_status, earlier.response_type, earlier.response_body)
            )
        if self.behaviour.message_errors:
            self.behaviour.message_errors -= 1
            item = ErrorItem(
                code=self.behaviour.message_error_code, description="refused by the mock (behaviour)"
            )
            self.ledger.refuse(item.code, item.description, header.message_id)
            return _reply(*build_message_error(item, received=header))
        record = Received(
            message_id=header.message_id,
            action=header.action,
            from_party=header.from_party,
            ref_to_message_id=header.ref_to_message_id,
        )
        self.ledger.add(record)
        payload = message.payload
        stuf: IO[bytes] = payload.open() if payload is not None else io.BytesIO(b"")
        reply = await asyncio.to_thread(self._process, header, stuf, record)
        record.processed += 1
        record.response_status, record.response_type, record.response_body = (
            reply.status,
            reply.content_type,
            reply.body,
        )
        return self._maybe_drop(reply)

    def _maybe_drop(self, reply: Reply) -> Reply:
        if self.behaviour.drop_acks:
            self.behaviour.drop_acks -= 1
            return Reply(503, "text/plain", b"ack dropped by the mock")
        return reply

    def _check_header(self, header: MessageHeader) -> None:
        cfg = self.config
        if header.from_party != cfg.gemeente_oin:
            raise ValueNotRecognized("From/PartyId is not a party of this CPA", location="eb:From/eb:PartyId")
        if header.cpa_id != cfg.cpa_id:
            raise ValueNotRecognized(f"CPAId {header.cpa_id[:60]!r} is not known", location="eb:CPAId")
        if header.service != CORV_SERVICE:
            raise ValueNotRecognized(f"Service {header.service[:80]!r} is not known", location="eb:Service")
        if header.action not in ACCEPTED_ACTIONS:
            raise NotSupported(f"Action {header.action[:40]!r} is not supported here", location="eb:Action")

    # --- the StUF level ----------------------------------------------------------------

    def _process(self, header: MessageHeader, stuf: IO[bytes], record: Received) -> Reply:
        """The StUF level; ``stuf`` is the payload's spooled file (a VTO may be 112 MiB)."""
        try:
            root = load_message(stuf)
            parsed = message_of(root)
        except StufError as exc:
            sg = exc.stuurgegevens
            if header.action == "vtoDi01" and sg is not None:
                # The compliance platform answers an invalid VTO as any rejected one: ack, Fo01 later.
                record.outcome = f"fo01:{exc.code}"
                self._schedule(header, sg, exc.fout())
                return _reply(*build_ack(header))
            record.outcome = f"fo03:{exc.code}"
            if sg is None:
                return _reply(*build_ack(header))
            return _reply(*build_ack(header, stuf_answer=render_answer(fo03(sg, exc.fout()))))
        if isinstance(parsed, StufAnswer):
            record.referentienummer = parsed.stuurgegevens.referentienummer
            record.outcome = f"answer:{parsed.berichtcode}"
            self.answers_received.append(parsed)
            self.outbox.on_stuf_answer(parsed)
            return _reply(*build_ack(header))
        sg = parsed.stuurgegevens
        record.referentienummer = sg.referentienummer
        if not self.ledger.claim_stuf_ref(sg.zender.organisatie, sg.referentienummer):
            record.outcome = f"fo03:{STUF_DUPLICATE}"
            fout = Fout(
                code=STUF_DUPLICATE, omschrijving="zender en referentienummer zijn al eerder ontvangen"
            )
            return _reply(*build_ack(header, stuf_answer=render_answer(fo03(sg, fout))))
        if isinstance(parsed, Vto):
            record.zaak_identificatie = parsed.zaak_identificatie
            self.vtos[header.message_id] = parsed
            refusal = self._vto_fout(root, parsed)
            if refusal is not None:
                record.outcome = f"fo01:{refusal.code}"
                self._schedule(header, sg, refusal)
                return _reply(*build_ack(header))
        elif isinstance(parsed, Terugkoppeling):
            record.zaak_identificatie = parsed.zaak_identificatie
            broken = self._published_fout(root)
            if broken is not None:
                # The compliance platform checks every message against the published XSDs.
                record.outcome = f"fo03:{broken.code}"
                return _reply(*build_ack(header, stuf_answer=render_answer(fo03(sg, broken))))
            self.terugkoppelingen[header.message_id] = parsed
        record.outcome = "bv01"
        return _reply(*build_ack(header, stuf_answer=render_answer(bv01(sg))))

    def _vto_fout(self, root: etree._Element, vto: Vto) -> Fout | None:
        """Why the Raad refuses this VTO (None: accepted)."""
        fout = self._published_fout(root)
        if fout is not None:
            return fout
        try:
            check_rules(vto)
        except StufError as exc:
            return exc.fout()
        if any(kind.persoon.bsn == UNKNOWN_CHILD_BSN for kind in vto.kinderen):
            return Fout(code="CORV03", omschrijving="kind onbekend in de BRP")
        if self.behaviour.reject_vtos:
            self.behaviour.reject_vtos -= 1
            return Fout(code=self.behaviour.reject_code, omschrijving=self.behaviour.reject_omschrijving)
        return None

    def _published_fout(self, root: etree._Element) -> Fout | None:
        """StUF055 when the message breaks the published jz0100 XSDs (when configured)."""
        published = self._published_schema()
        if published is not None:
            found = violations(published, root)
            if found:
                return Fout(code="StUF055", omschrijving=f"XSD: line {found[0].line}"[:200])
        return None

    def _published_schema(self) -> etree.XMLSchema | None:
        path = self.config.published_schema
        if path is None:
            return None
        return load_schema(Path(path).name, base_dir=Path(path).parent)

    def _schedule(self, header: MessageHeader, received: Stuurgegevens, fout: Fout) -> None:
        """Send the Fo01 after the answer delay (called from a worker thread)."""
        if self._loop is not None:
            later = self._fo01_later(header, received, fout)
            self._loop.call_soon_threadsafe(lambda: self.outbox.spawn(later))

    async def _fo01_later(self, header: MessageHeader, received: Stuurgegevens, fout: Fout) -> None:
        delay = self.behaviour.answer_delay_s
        await asyncio.sleep(self.config.answer_delay_s if delay is None else delay)
        answer = fo01(received, fout)
        outgoing = self.outbox.render(
            "Fo01",
            render_answer(answer),
            referentienummer=answer.stuurgegevens.referentienummer,
            ref_to_message_id=header.message_id,
            conversation_id=header.conversation_id,
        )
        await self.outbox.send(outgoing)


def _reply(content_type: str, body: bytes) -> Reply:
    return Reply(200, content_type, body)
