"""Accepting a beschikking: store the decision, its toewijzingen and every message
they cause, in one transaction.

Either all of it is stored and the back-office gets 201, or none of it and it gets a
problem+json; nothing is half-written.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.istandaard import Law, render_toewijzing
from connectors.istandaard.codelists import MAX_TOEWIJZINGNUMMER
from connectors.istandaard.model import Toewijzingsbericht
from connectors.xsd import SchemaValidationError
from gateway import eigen_bijdrage, pgb
from gateway.api.beschikking_models import (
    BerichtRef,
    BeschikkingIn,
    BeschikkingOut,
    Leveringsvorm,
    ToewijzingOut,
)
from gateway.api.problems import FieldError, Problem, validation_problem
from gateway.bsn import keyed_hash
from gateway.clock import local_now
from gateway.events import BESCHIKKING_ACCEPTED, record_event
from gateway.intake_rules import check_beschikking, overlaps, product_period
from gateway.outbox import enqueue_ggk_heenbericht
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Message, MessageToewijzing, Toewijzing
from gateway.toewijzing_history import record_version
from gateway.toewijzing_messages import build_toewijzingsbericht, current_toewijzingen

log = structlog.get_logger("gateway.intake")


def accept_beschikking(
    session: Session,
    runtime: Runtime,
    request: BeschikkingIn,
    api_client_id: int | None,
    referentie: tuple[str, str] | None = None,
) -> BeschikkingOut:
    """Validate, store and enqueue; the caller owns the transaction.

    ``referentie`` (aanbieder AGB, ReferentieAanbieder): the beschikking honours that
    aanbieder's VOT, so its toewijzingen there carry the reference.
    """
    errors = check_beschikking(request)
    errors += pgb.check_pgb(session, runtime, request)
    if errors:
        raise validation_problem(errors)
    law = request.wet
    exists = session.scalar(
        select(Beschikking.id).where(
            Beschikking.law == law.value, Beschikking.beschikkingnummer == request.beschikkingnummer
        )
    )
    if exists is not None:
        raise Problem(
            409,
            "beschikking-exists",
            "This beschikking was already accepted",
            f"beschikkingnummer '{request.beschikkingnummer}' exists for {law.value} "
            f"(id {exists}); changes are sent as changes, not as a new beschikking",
        )
    now = runtime.clock.now()
    local = local_now(runtime.clock)
    bsn_hash = keyed_hash(request.client.bsn, runtime.settings.hash_key)
    _check_no_overlap_with_existing(session, request, bsn_hash)

    client_record: dict[str, Any] = request.client.model_dump(mode="json", exclude={"bsn"}, exclude_none=True)
    beschikking = Beschikking(
        law=law.value,
        beschikkingnummer=request.beschikkingnummer,
        gemeentecode=runtime.settings.gemeentecode,
        bsn=request.client.bsn,
        bsn_hash=bsn_hash,
        client=client_record,
        verwijzer=request.verwijzer.model_dump(mode="json", exclude_none=True) if request.verwijzer else None,
        gebiedsteam=request.gebiedsteam,
        commentaar=request.commentaar,
        api_client_id=api_client_id,
        received_at=now,
    )
    session.add(beschikking)
    session.flush()

    rows: list[Toewijzing] = []
    for product in request.producten:
        periode = product_period(request, product)
        row = Toewijzing(
            beschikking_id=beschikking.id,
            law=law.value,
            bsn_hash=bsn_hash,
            aanbieder_agb=product.aanbieder_agb or "",
            leveringsvorm=product.leveringsvorm.value,
            categorie=product.categorie,
            productcode=product.code,
            ingangsdatum=periode.begindatum,
            einddatum=periode.einddatum,
            volume=product.omvang.volume if product.omvang else None,
            eenheid=product.omvang.eenheid if product.omvang else None,
            frequentie=product.omvang.frequentie if product.omvang else None,
            budget=product.budget,
            toewijzingsdatum=local.date(),
            toewijzingstijd=local.time().replace(microsecond=0),
            commentaar=product.commentaar,
            referentie_aanbieder=referentie[1]
            if referentie and referentie[0] == product.aanbieder_agb
            else None,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    if any(row.id > MAX_TOEWIJZINGNUMMER for row in rows):
        raise RuntimeError("ToewijzingNummer range exhausted")
    for row in rows:
        record_version(session, runtime, row, "beschikking", api_client_id)

    messages: list[Message] = []
    receivers = sorted({r.aanbieder_agb for r in rows if r.leveringsvorm == Leveringsvorm.ZIN.value})
    for agb in receivers:
        messages.append(enqueue_301(session, runtime, law, beschikking, agb))

    messages += pgb.after_beschikking(session, runtime, beschikking, rows, api_client_id)
    messages += eigen_bijdrage.after_provisions_changed(
        session,
        runtime,
        bsn_hash=bsn_hash,
        law=law.value,
        trigger="beschikking",
        # The CAK is told the kostprijs of hulpmiddelen and woonvoorzieningen.
        kostprijzen={
            row.id: product.kostprijs
            for row, product in zip(rows, request.producten, strict=True)
            if product.kostprijs is not None
        },
    )
    record_event(
        session,
        runtime,
        BESCHIKKING_ACCEPTED,
        beschikking_id=beschikking.id,
        beschikkingnummer=beschikking.beschikkingnummer,
        wet=law.value,
        toewijzingen=[r.id for r in rows],
        berichten=[m.id for m in messages],
    )
    log.info(
        "beschikking_accepted",
        beschikking_id=beschikking.id,
        wet=law.value,
        toewijzingen=len(rows),
        messages=[m.id for m in messages],
    )
    return BeschikkingOut(
        id=beschikking.id,
        beschikkingnummer=beschikking.beschikkingnummer,
        wet=law,
        toewijzingen=[toewijzing_out(r) for r in rows],
        berichten=[bericht_ref(m) for m in messages],
    )


def toewijzing_out(row: Toewijzing) -> ToewijzingOut:
    return ToewijzingOut(
        toewijzingnummer=row.id,
        aanbieder_agb=row.aanbieder_agb,
        categorie=row.categorie,
        productcode=row.productcode,
        ingangsdatum=row.ingangsdatum,
        einddatum=row.einddatum,
    )


def bericht_ref(message: Message) -> BerichtRef:
    return BerichtRef(
        id=message.id,
        type=message.message_type,
        state=message.state,
        aanbieder_agb=message.receiver,
        href=f"/api/v1/berichten/{message.id}",
    )


def enqueue_301(session: Session, runtime: Runtime, law: Law, beschikking: Beschikking, agb: str) -> Message:
    today = local_now(runtime.clock).date()
    rows = current_toewijzingen(session, law=law, bsn_hash=beschikking.bsn_hash, agb=agb, today=today)

    def render(identificatie: str) -> bytes:
        return render_checked(
            build_toewijzingsbericht(
                law=law,
                gemeentecode=runtime.settings.gemeentecode,
                agb=agb,
                identificatie=identificatie,
                dagtekening=today,
                beschikking=beschikking,
                rows=rows,
            )
        )

    message = enqueue_ggk_heenbericht(
        session,
        runtime,
        functie=law.function_name(301),
        law=law.value,
        receiver=agb,
        render_payload=render,
        beschikking_id=beschikking.id,
        bsn_hash=beschikking.bsn_hash,
    )
    session.add_all(MessageToewijzing(message_id=message.id, toewijzing_id=row.id) for row in rows)
    return message


def render_checked(bericht: Toewijzingsbericht) -> bytes:
    """Render, turning a schema violation the intake rules did not foresee into a 422.

    The rules above catch what a back-office can get wrong; this is the safety net for
    the rest (a name longer than the standard allows, ...). Nothing is stored.
    """
    try:
        return render_toewijzing(bericht)
    except SchemaValidationError as exc:
        first = exc.violations[0] if exc.violations else None
        detail = first.message if first else str(exc)
        raise Problem(
            422,
            "message-schema",
            "The decision cannot be expressed as a valid message",
            f"{bericht.header.law.function_name(301)} would break the iStandaard schema: {detail}",
            [FieldError(first.path if first else "body", "istandaard-xsd", detail)],
        ) from None


def _check_no_overlap_with_existing(session: Session, request: BeschikkingIn, bsn_hash: str) -> None:
    """TR302 against what the client already has: no overlapping toewijzing of one product."""
    existing = session.scalars(
        select(Toewijzing).where(
            Toewijzing.bsn_hash == bsn_hash,
            Toewijzing.law == request.wet.value,
            Toewijzing.reden_wijziging.is_distinct_from("13"),  # a deleted toewijzing never existed
        )
    ).all()
    errors: list[FieldError] = []
    for index, product in enumerate(request.producten):
        periode = product_period(request, product)
        for row in existing:
            if (row.categorie, row.productcode) != (product.categorie, product.code):
                continue
            if overlaps(row.ingangsdatum, row.einddatum, periode.begindatum, periode.einddatum):
                errors.append(
                    FieldError(
                        f"producten[{index}]",
                        "overlapping-toewijzing-TR302",
                        f"the client already has toewijzing {row.id} for this product in this period",
                    )
                )
                break
    if errors:
        raise validation_problem(errors)
