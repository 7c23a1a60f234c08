"""The transactional outbox: a message is stored - payload and exact wire bytes - in
the same transaction as the business change that caused it; delivery comes later.

The envelope (with its referentienummer) is fixed here, once. Every re-send puts the
same bytes on the wire, so the chain's duplicate detection recognises it.

Three kinds of GGk traffic leave the gemeente:
- a heenbericht (``ggk_Di01``): a 301, a 319 ...; it awaits a retour;
- a retourbericht (``ggk_Du01``): our 306/308/316/318/325 to an aanbieder's message;
- an asynchronous ``Fo01``: an aanbieder's payload failed its XSD (StUF055).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from connectors.ggk import (
    Heenbericht,
    Retourbericht,
    Systeem,
    new_referentienummer,
    render_fo01,
    soap_di01,
    soap_du01,
)
from gateway import tracing
from gateway.bulk_ids import assign_ids
from gateway.clock import local_now
from gateway.deadlines import DeadlineKind, insert_deadlines, open_deadlines
from gateway.runtime import Runtime
from gateway.store.tables import Message, MessageState

PARTY_GGK = "ggk"
GGK_DI01 = "ggk_Di01"
GGK_DU01 = "ggk_Du01"
GGK_FO01 = "Fo01"


def ggk_route(receiver: str) -> str:
    return f"{PARTY_GGK}:{receiver}"


def _draft_values(
    runtime: Runtime,
    *,
    operation: str,
    functie: str,
    law: str | None,
    receiver: str,
    beschikking_id: int | None,
    bsn_hash: str | None,
    answers_inbound_id: int | None,
) -> dict[str, Any]:
    """A new message's columns (id, identificatie and payload still to come)."""
    now = runtime.clock.now()
    return {
        "party": PARTY_GGK,
        "route": ggk_route(receiver),
        "message_type": functie,
        "operation": operation,
        "law": law,
        "state": MessageState.ACCEPTED,
        "sender": runtime.settings.gemeentecode,
        "receiver": receiver,
        "referentienummer": new_referentienummer(),
        "bericht_identificatie": "",
        "beschikking_id": beschikking_id,
        "answers_inbound_id": answers_inbound_id,
        "bsn_hash": bsn_hash,
        "payload": b"",
        "wire_body": b"",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _heenbericht_values(runtime: Runtime, draft: HeenberichtDraft) -> dict[str, Any]:
    """A drafted heenbericht's columns: a Di01 to the aanbieder, answering nothing."""
    return _draft_values(
        runtime,
        operation=GGK_DI01,
        functie=draft.functie,
        law=draft.law,
        receiver=draft.receiver,
        beschikking_id=draft.beschikking_id,
        bsn_hash=draft.bsn_hash,
        answers_inbound_id=None,
    )


def _draft_message(runtime: Runtime, **fields: Any) -> Message:
    """:func:`_draft_values` as an ORM object (the PGB and CAK messages' path)."""
    return Message(**_draft_values(runtime, **fields))


def _store_drafts(session: Session, messages: list[Message]) -> None:
    """Add the messages with their ids: each row id becomes its payload's BerichtIdentificatie.

    Ids taken from the sequence up front (:func:`assign_ids`) need no flush: the rows go in
    once, later, already rendered and queued; otherwise one flush inserts them all.
    """
    assign_ids(session, messages)
    session.add_all(messages)
    if any(message.id is None for message in messages):
        session.flush()
    for message in messages:
        message.bericht_identificatie = str(message.id)
        tracing.event("message.created", {"gateway.message_id": message.id, "gateway.route": message.route})


def _new_message(
    session: Session,
    runtime: Runtime,
    *,
    operation: str,
    functie: str,
    law: str | None,
    receiver: str,
    beschikking_id: int | None,
    bsn_hash: str | None,
    answers_inbound_id: int | None,
) -> Message:
    message = _draft_message(
        runtime,
        operation=operation,
        functie=functie,
        law=law,
        receiver=receiver,
        beschikking_id=beschikking_id,
        bsn_hash=bsn_hash,
        answers_inbound_id=answers_inbound_id,
    )
    _store_drafts(session, [message])
    return message


def _queue(message: Message, runtime: Runtime, wire_body: bytes) -> Message:
    message.wire_body = wire_body
    message.state = MessageState.QUEUED
    message.next_attempt_at = runtime.clock.now()
    return message


def _gemeente(runtime: Runtime) -> Systeem:
    return Systeem(organisatie=runtime.settings.gemeentecode, applicatie=runtime.settings.applicatie)


@dataclass(frozen=True)
class HeenberichtDraft:
    """One heenbericht to store: see :func:`enqueue_ggk_heenbericht` for the fields."""

    functie: str
    law: str | None
    receiver: str
    render_payload: Callable[[str], bytes]
    beschikking_id: int | None
    bsn_hash: str | None


def enqueue_ggk_heenbericht(
    session: Session,
    runtime: Runtime,
    *,
    functie: str,
    law: str | None,
    receiver: str,
    render_payload: Callable[[str], bytes],
    beschikking_id: int | None,
    bsn_hash: str | None,
) -> Message:
    """Store a heenbericht to ``receiver`` (an AGB code, ``SVB``, ``CAK``) via the GGk.

    ``render_payload`` gets the payload's BerichtIdentificatie (the message's row id,
    unique per sender) and returns the validated payload XML.
    """
    [message] = enqueue_ggk_heenberichten(
        session, runtime, [HeenberichtDraft(functie, law, receiver, render_payload, beschikking_id, bsn_hash)]
    )
    return message


def enqueue_ggk_heenberichten(
    session: Session, runtime: Runtime, drafts: Sequence[HeenberichtDraft]
) -> list[Message]:
    """Store many heenberichten at once, each exactly as :func:`enqueue_ggk_heenbericht` would.

    Why together: the rows are inserted in one flush (one INSERT for all; on PostgreSQL
    with the ids taken first, :mod:`gateway.bulk_ids`, so each row goes in once, already
    rendered) and their deadlines opened in one go, instead of a round trip or three
    each. (Intake, which needs no objects back, uses :func:`insert_ggk_heenberichten`.) A
    ``render_payload`` that raises leaves the rows in the session: the caller's
    transaction (or savepoint) must roll back, as for one message.
    """
    messages = [Message(**_heenbericht_values(runtime, draft)) for draft in drafts]
    if not messages:
        return messages
    _store_drafts(session, messages)
    zender = _gemeente(runtime)
    for message, draft in zip(messages, drafts, strict=True):
        message.payload = draft.render_payload(message.bericht_identificatie)
        message.wire_body = _di01_body(
            runtime, zender, draft, message.referentienummer, message.bericht_identificatie, message.payload
        )
    start = runtime.clock.now()
    for message in messages:
        _queue(message, runtime, message.wire_body)
    # Queued before this flush: a row goes in with one INSERT (its id taken first) or one
    # INSERT and one UPDATE (identificatie, payload, state together), not two UPDATEs.
    # The messages go in before their deadlines: Deadline has no relationship() to Message,
    # so the ORM would order the two INSERTs by mapper name, not by the foreign key.
    session.flush()
    # Every iJw/iWmo heenbericht is answered by exactly one retour within 3 werkdagen (OP090).
    open_deadlines(
        session,
        runtime,
        DeadlineKind.RETOUR,
        message_ids=[m.id for m, d in zip(messages, drafts, strict=True) if d.law is not None],
        start=start,
        new_messages=True,
    )
    return messages


def insert_ggk_heenberichten(
    session: Session, runtime: Runtime, drafts: Sequence[HeenberichtDraft], ids: Sequence[int]
) -> None:
    """:func:`enqueue_ggk_heenberichten` for messages whose ids are already taken
    (:func:`gateway.bulk_ids.insert_and_reserve`): the same rows, each inserted once -
    rendered and queued - by one Core ``executemany``, their retour deadlines by another.

    Why: with its id known before the INSERT a message needs no UPDATE afterwards (the id
    is its BerichtIdentificatie, in the payload and the envelope), and no ORM object or
    flush: bulk intake reads none of it back. The messages are ``queued`` under ``ids``.
    The rows they refer to (the beschikking) must be in the database already. A
    ``render_payload`` that raises leaves nothing inserted.
    """
    rows: list[dict[str, Any]] = []
    for draft, id_ in zip(drafts, ids, strict=True):
        values = _heenbericht_values(runtime, draft)
        values["id"] = id_
        values["bericht_identificatie"] = str(id_)
        tracing.event("message.created", {"gateway.message_id": id_, "gateway.route": values["route"]})
        rows.append(values)
    if not rows:
        return
    zender = _gemeente(runtime)
    for values, draft in zip(rows, drafts, strict=True):
        identificatie = values["bericht_identificatie"]
        values["payload"] = draft.render_payload(identificatie)
        values["wire_body"] = _di01_body(
            runtime, zender, draft, values["referentienummer"], identificatie, values["payload"]
        )
    start = runtime.clock.now()
    for values in rows:
        values["state"] = MessageState.QUEUED
        values["next_attempt_at"] = runtime.clock.now()
    session.connection().execute(_INSERT_MESSAGE, rows)
    # Every iJw/iWmo heenbericht is answered by exactly one retour within 3 werkdagen (OP090).
    insert_deadlines(
        session,
        runtime,
        DeadlineKind.RETOUR,
        message_ids=[values["id"] for values, d in zip(rows, drafts, strict=True) if d.law is not None],
        start=start,
    )


def _di01_body(
    runtime: Runtime,
    zender: Systeem,
    draft: HeenberichtDraft,
    referentienummer: str,
    identificatie: str,
    payload: bytes,
) -> bytes:
    """The SOAP envelope of a heenbericht, exactly as it goes on the wire."""
    return soap_di01(
        Heenbericht(
            zender=zender,
            ontvanger=Systeem(organisatie=draft.receiver, applicatie="GGk"),
            referentienummer=referentienummer,
            tijdstip=local_now(runtime.clock).replace(tzinfo=None),
            functie=draft.functie,
            payload=payload,
            bestandsnaam=f"{draft.functie}_{identificatie}.xml",
            referentienummer_bericht=identificatie,
        )
    )


_MESSAGES: Table = Message.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_INSERT_MESSAGE = insert(_MESSAGES)


def enqueue_ggk_retour(
    session: Session,
    runtime: Runtime,
    *,
    functie: str,
    law: str | None,
    receiver: str,
    cross_ref: str,
    cross_ref_bericht: str | None,
    render_payload: Callable[[str], bytes],
    answers_inbound_id: int,
    bsn_hash: str | None,
) -> Message:
    """Store our retour (a Du01) to the heenbericht with referentienummer ``cross_ref``."""
    message = _new_message(
        session,
        runtime,
        operation=GGK_DU01,
        functie=functie,
        law=law,
        receiver=receiver,
        beschikking_id=None,
        bsn_hash=bsn_hash,
        answers_inbound_id=answers_inbound_id,
    )
    message.payload = render_payload(message.bericht_identificatie)
    body = soap_du01(
        Retourbericht(
            zender=_gemeente(runtime),
            ontvanger=Systeem(organisatie=receiver, applicatie="GGk"),
            referentienummer=message.referentienummer,
            cross_refnummer=cross_ref,
            tijdstip=local_now(runtime.clock).replace(tzinfo=None),
            functie=functie,
            payload=message.payload,
            bestandsnaam=f"{functie}_{message.bericht_identificatie}.xml",
            referentienummer_bericht=message.bericht_identificatie,
            cross_refnummer_bericht=cross_ref_bericht,
        )
    )
    return _queue(message, runtime, body)


def enqueue_ggk_fo01(
    session: Session,
    runtime: Runtime,
    *,
    receiver: str,
    cross_ref: str,
    code: str,
    omschrijving: str,
    details: str | None,
    answers_inbound_id: int,
) -> Message:
    """Store an asynchronous Fo01: the heenbericht ``cross_ref`` is refused (e.g. StUF055)."""
    message = _new_message(
        session,
        runtime,
        operation=GGK_FO01,
        functie="Fo01",
        law=None,
        receiver=receiver,
        beschikking_id=None,
        bsn_hash=None,
        answers_inbound_id=answers_inbound_id,
    )
    body = render_fo01(
        code,
        "client",
        omschrijving,
        zender=_gemeente(runtime),
        ontvanger=Systeem(organisatie=receiver, applicatie="GGk"),
        cross_ref=cross_ref,
        referentienummer=message.referentienummer,
        details=details,
        tijdstip=local_now(runtime.clock).replace(tzinfo=None),
    )
    return _queue(message, runtime, body)
