"""An outbound CORV message into the outbox: ebMS multipart rendered once, stored whole.

The StUF payload is rendered to a spool file first (a VTO's documents are streamed
into it as base64); the ebMS user message is then written around it to a second spool
file and copied into ``corv_wire_chunks`` - all in the caller's transaction, together
with the business row (VTO, zorgmelding) that caused it. Nothing is sent here.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from sqlalchemy.orm import Session

from connectors.ebms import MessageHeader, Payload, write_user_message
from gateway.corv.config import OPERATION_EBMS, PARTY_CORV, corv_route
from gateway.corv.wire import WireDescriptor, store_chunks
from gateway.runtime import Runtime
from gateway.settings import CorvParty, Settings
from gateway.store.corv_tables import CorvOutbound
from gateway.store.tables import Message, MessageState

#: Payloads up to this size are also kept in ``messages.payload`` for operators; larger
#: ones (a VTO with documents) only inside the stored wire bytes.
PAYLOAD_COLUMN_MAX = 1024 * 1024


def spool_dir(settings: Settings) -> Path:
    """Temporary files for uploads, received parts and rendering: under the data dir, not in memory.

    They hold plaintext documents and BSNs for the seconds a request takes, so the
    directory is the gateway user's alone (0700) and each file is created 0600
    (:mod:`tempfile`) and unlinked at once (anonymous: gone when closed, also after a crash).
    """
    path = settings.data_dir / "spool"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)  # made earlier (or under a looser umask): tighten it
    return path


def spool_file(settings: Settings) -> BinaryIO:
    """An anonymous temporary file (0600) in the spool dir, gone when closed."""
    return cast(BinaryIO, tempfile.TemporaryFile(dir=spool_dir(settings)))


def new_referentienummer() -> str:
    """A StUF referentienummer: unique per zender (a UUID v4)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Stored:
    message: Message
    outbound: CorvOutbound


def enqueue_corv(
    session: Session,
    runtime: Runtime,
    *,
    party: CorvParty,
    action: str,
    referentienummer: str,
    payload: BinaryIO,
    conversation_id: str | None = None,
    ref_to_message_id: str | None = None,
    bsn_hash: str | None = None,
    answers_inbound_id: int | None = None,
) -> Stored:
    """Store one CORV user message (StUF ``payload``, read from its start) for delivery."""
    settings = runtime.settings
    now = runtime.clock.now()
    header = MessageHeader.new(
        from_party=settings.corv.oin,
        to_party=party.oin,
        cpa_id=party.cpa_id,
        action=action,
        conversation_id=conversation_id,
        ref_to_message_id=ref_to_message_id,
    )
    payload.seek(0, 2)
    payload_size = payload.tell()
    payload.seek(0)
    message = Message(
        party=PARTY_CORV,
        route=corv_route(party.oin),
        message_type=action,
        operation=OPERATION_EBMS,
        law=None,
        state=MessageState.ACCEPTED,
        sender=settings.corv.oin,
        receiver=party.oin,
        referentienummer=referentienummer,
        bericht_identificatie="",
        answers_inbound_id=answers_inbound_id,
        bsn_hash=bsn_hash,
        payload=payload.read() if payload_size <= PAYLOAD_COLUMN_MAX else b"",
        wire_body=b"",
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()
    message.bericht_identificatie = str(message.id)
    payload.seek(0)
    with spool_file(settings) as wire:
        content_type = write_user_message(header, [Payload(payload)], wire)
        wire.seek(0)
        size, sha256, chunks = store_chunks(session, message.id, wire)
    message.wire_body = WireDescriptor(message.id, party.oin, content_type, size, sha256, chunks).encode()
    message.state = MessageState.QUEUED
    message.next_attempt_at = now
    outbound = CorvOutbound(
        message_id=message.id,
        ebms_message_id=header.message_id,
        conversation_id=header.conversation_id,
        action=action,
        to_oin=party.oin,
        cpa_id=party.cpa_id,
        content_type=content_type,
        wire_size=size,
        wire_sha256=sha256,
    )
    session.add(outbound)
    session.flush()
    return Stored(message, outbound)
