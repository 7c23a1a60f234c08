"""Accepting a verzoek tot onderzoek (vtoDi01): rules, StUF render, outbox - or nothing.

The documents arrive as spool files (never whole in memory); the StUF message is
rendered into another spool file (base64 streamed in chunks by the connector), then
the ebMS message, its chunks, the ``corv_vtos`` row and the outbox row are stored in
one transaction. A refused VTO stores nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.corv import (
    ROLLEN_VTO,
    Belanghebbende,
    Document,
    DocumentSoort,
    Kind,
    Persoon,
    StufError,
    Stuurgegevens,
    Systeem,
    Uitvoerende,
    Urgentie,
    Vestiging,
    Vto,
    render_vto,
)
from gateway.api.problems import FieldError, Problem, validation_problem
from gateway.bsn import keyed_hash, passes_elfproef
from gateway.clock import local_now
from gateway.corv.api_models import PersoonIn, VtoIn
from gateway.corv.config import default_party, party_by_oin
from gateway.corv.outbound import enqueue_corv, new_referentienummer, spool_file
from gateway.runtime import Runtime
from gateway.settings import CorvParty
from gateway.store.corv_tables import CorvVto
from gateway.store.database import transaction
from gateway.store.tables import Message, MessageState

ACTION_VTO = "vtoDi01"
_SOORTEN = {soort.value: soort for soort in DocumentSoort}


@dataclass
class DocumentContent:
    """A document's content, spooled, and where it came from (for precise errors)."""

    field: str
    file: BinaryIO
    size: int


def too_large(field: str, bestandsnaam: str | None, limit: int) -> Problem:
    name = f"'{bestandsnaam[:100]}' " if bestandsnaam else ""
    return Problem(
        413,
        "document-too-large",
        "A document is too large",
        f"document {name}({field}) is larger than {limit} bytes (21 MB per document for CORV)",
        [FieldError(field, "document-max-size", f"at most {limit} bytes per document")],
    )


def _persoon_errors(persoon: PersoonIn, where: str, *, bsn_required: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    if persoon.bsn is None:
        if bsn_required:
            errors.append(FieldError(f"{where}.bsn", "required", "a child is identified by its BSN"))
    elif not passes_elfproef(persoon.bsn):
        errors.append(FieldError(f"{where}.bsn", "bsn-elfproef", "the BSN does not pass the 11-proef"))
    return errors


def check_rules(runtime: Runtime, body: VtoIn) -> CorvParty:
    """The rules the gateway checks before rendering; raises a 422 Problem naming each field."""
    errors: list[FieldError] = []
    party = default_party(runtime.settings)
    if body.ontvanger_oin is not None:
        found = party_by_oin(runtime.settings, body.ontvanger_oin)
        if found is None:
            errors.append(
                FieldError("ontvanger_oin", "corv-unknown-oin", "no CORV party with this OIN is configured")
            )
        else:
            party = found
    for i, kind in enumerate(body.kinderen):
        where = f"kinderen[{i}].persoon"
        if kind.ongeboren:
            if kind.persoon.bsn is not None:
                errors.append(FieldError(f"{where}.bsn", "ongeboren-no-bsn", "an unborn child has no BSN"))
        else:
            errors += _persoon_errors(kind.persoon, where, bsn_required=True)
    for i, belanghebbende in enumerate(body.belanghebbenden):
        where = f"belanghebbenden[{i}]"
        if belanghebbende.rol not in ROLLEN_VTO:
            errors.append(FieldError(f"{where}.rol", "vto-rol", "not a role of the jz0100 list"))
        if (belanghebbende.persoon is None) == (belanghebbende.organisatie is None):
            errors.append(
                FieldError(where, "persoon-or-organisatie", "give either a persoon or an organisatie")
            )
        if belanghebbende.persoon is not None:
            errors += _persoon_errors(belanghebbende.persoon, f"{where}.persoon", bsn_required=False)
    verzoeken = 0
    for i, document in enumerate(body.documenten):
        if document.soort not in _SOORTEN:
            errors.append(
                FieldError(f"documenten[{i}].soort", "vto-document-soort", "not a VTO document soort")
            )
        verzoeken += document.soort == DocumentSoort.VERZOEK_TOT_ONDERZOEK.value
    if verzoeken != 1:
        errors.append(
            FieldError(
                "documenten",
                "vto-exactly-one-verzoek",
                f"exactly one document of soort '{DocumentSoort.VERZOEK_TOT_ONDERZOEK.value}'"
                f" (found {verzoeken})",
            )
        )
    if errors:
        raise validation_problem(errors)
    return party


def _persoon(p: PersoonIn) -> Persoon:
    return Persoon(
        bsn=p.bsn,
        geslachtsnaam=p.geslachtsnaam,
        voorvoegsel=p.voorvoegsel,
        voorletters=p.voorletters,
        voornamen=p.voornamen,
        geslachtsaanduiding=p.geslachtsaanduiding,
        geboortedatum=p.geboortedatum,
        anp_identificatie=p.anp_identificatie,
        telefoonnummer=p.telefoonnummer,
        emailadres=p.emailadres,
    )


def _digest(file: BinaryIO) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    while chunk := file.read(1024 * 1024):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def accept_vto(
    runtime: Runtime, body: VtoIn, contents: list[DocumentContent], api_client_id: int | None
) -> int:
    """Check, render and store a VTO; returns its id. Raises Problem (nothing stored)."""
    party = check_rules(runtime, body)
    settings = runtime.settings
    for document, content in zip(body.documenten, contents, strict=True):
        if content.size > settings.corv.max_document_bytes:
            raise too_large(content.field, document.bestandsnaam, settings.corv.max_document_bytes)
    today = local_now(runtime.clock).date()
    referentienummer = new_referentienummer()
    stuurgegevens = Stuurgegevens(
        zender=Systeem(organisatie=settings.corv.oin, applicatie=settings.applicatie),
        ontvanger=Systeem(organisatie=party.oin, applicatie="CORV"),
        referentienummer=referentienummer,
        tijdstip=local_now(runtime.clock).replace(tzinfo=None),
        functie=ACTION_VTO,
    )
    documents = tuple(
        Document(
            soort=_SOORTEN[d.soort],
            identificatie=d.identificatie or f"{body.zaak_identificatie[:30]}-D{i + 1}",
            bestandsnaam=d.bestandsnaam,
            content=content.file,
            creatiedatum=d.creatiedatum or today,
            mime_type=d.mime_type,
            titel=d.titel,
        )
        for i, (d, content) in enumerate(zip(body.documenten, contents, strict=True))
    )
    summary_documents = [
        {
            "soort": d.soort,
            "bestandsnaam": d.bestandsnaam,
            "mime_type": d.mime_type,
            "bytes": c.size,
            "sha256": _digest(c.file),
        }
        for d, c in zip(body.documenten, contents, strict=True)
    ]
    vto = Vto(
        stuurgegevens=stuurgegevens,
        zaak_identificatie=body.zaak_identificatie,
        startdatum=body.startdatum,
        registratiedatum=body.registratiedatum or today,
        urgentie=Urgentie(body.urgentie),
        kinderen=tuple(Kind(persoon=_persoon(k.persoon), ongeboren=k.ongeboren) for k in body.kinderen),
        belanghebbenden=tuple(
            Belanghebbende(
                rol=b.rol,
                persoon=_persoon(b.persoon) if b.persoon is not None else None,
                vestiging=Vestiging(
                    handelsnaam=b.organisatie.handelsnaam,
                    telefoonnummer=b.organisatie.telefoonnummer,
                    emailadres=b.organisatie.emailadres,
                    vestigingsnummer=b.organisatie.vestigingsnummer,
                )
                if b.organisatie is not None
                else None,
            )
            for b in body.belanghebbenden
        ),
        uitvoerende=Uitvoerende(
            achternaam=body.uitvoerende.achternaam,
            organisatie=body.uitvoerende.organisatie,
            voorletters=body.uitvoerende.voorletters,
            functie=body.uitvoerende.functie,
            telefoonnummer=body.uitvoerende.telefoonnummer,
            emailadres=body.uitvoerende.emailadres,
        ),
        documenten=documents,
        omschrijving=body.omschrijving,
    )
    bsns = [k.persoon.bsn for k in body.kinderen if k.persoon.bsn]
    with spool_file(settings) as payload:
        try:
            render_vto(vto, payload)
        except StufError as exc:
            rule = f"jz0100-{exc.code.lower()}"  # corv01: a CORV rule; stuf055: the XSD
            raise validation_problem([FieldError("body", rule, exc.omschrijving)]) from None
        with transaction(runtime.sessions) as session:
            _refuse_open_duplicate(session, body.zaak_identificatie)
            stored = enqueue_corv(
                session,
                runtime,
                party=party,
                action=ACTION_VTO,
                referentienummer=referentienummer,
                payload=payload,
                bsn_hash=keyed_hash(bsns[0], settings.hash_key) if bsns else None,
            )
            row = CorvVto(
                zaak_identificatie=body.zaak_identificatie,
                message_id=stored.message.id,
                urgentie=body.urgentie,
                answer="pending",
                samenvatting={
                    "omschrijving": body.omschrijving,
                    "startdatum": body.startdatum.isoformat(),
                    "kinderen": sum(not k.ongeboren for k in body.kinderen),
                    "ongeboren": sum(k.ongeboren for k in body.kinderen),
                    "belanghebbenden": [b.rol for b in body.belanghebbenden],
                    "documenten": summary_documents,
                },
                bsn_hashes=[keyed_hash(bsn, settings.hash_key) for bsn in bsns],
                api_client_id=api_client_id,
                created_at=runtime.clock.now(),
            )
            session.add(row)
            session.flush()
            return row.id


def _refuse_open_duplicate(session: Session, zaak_identificatie: str) -> None:
    """One open VTO per zaak: a second is refused until the first was rejected or given up."""
    open_vto = session.scalar(
        select(CorvVto.id)
        .join(Message, Message.id == CorvVto.message_id)
        .where(
            CorvVto.zaak_identificatie == zaak_identificatie,
            CorvVto.answer != "rejected",
            Message.state.not_in([MessageState.PARKED, MessageState.EXPIRED]),
        )
    )
    if open_vto is not None:
        raise Problem(
            409,
            "vto-exists",
            "A VTO for this zaak exists",
            f"VTO {open_vto} for this zaak_identificatie is not rejected; see /api/v1/corv/vto/{open_vto}",
        )


def vto_state(vto: CorvVto, message: Message, acked: bool) -> str:
    """queued | sent | acknowledged | accepted | rejected | parked | expired."""
    if vto.answer == "accepted":
        return "accepted"
    if vto.answer == "rejected":
        return "rejected"
    if message.state in (MessageState.PARKED, MessageState.EXPIRED):
        return str(message.state)
    if acked or message.state in (MessageState.DELIVERED, MessageState.ANSWERED):
        return "acknowledged"
    if message.attempts == 0:
        return "queued"
    return "sent"
