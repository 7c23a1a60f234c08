"""Requests of an aanbieder: VOT (315, verzoek om toewijzing) and VOW (317, verzoek om
wijziging). They become tasks for the back-office, which honours them (a 301 carrying
the ReferentieAanbieder) or answers with a 319 (afgewezen, or in onderzoek) - within
5 werkdagen.

Rules applied on receipt (each with its retourcode):
- 9347: ReferentieAanbieder unique for the aanbieder within the law;
- 9374 (TR374): one open request at a time per client at an aanbieder (VOW);
- 9349 (TR349): a VOW names every current toewijzing, as unchanged or to change;
- 9350 / 9351 (TR350/TR351): those it names are current toewijzingen of the client;
- 9357: a GewensteIngangsdatum on or before the dagtekening must be the original
  ingangsdatum (no changes back in time);
- 9373: a budget change keeps the toewijzing's ingangsdatum.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.istandaard import Law, render_antwoord
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import (
    Antwoordbericht,
    NieuwProduct,
    TeWijzigenProduct,
    VerzoekOmToewijzing,
    VerzoekOmWijziging,
)
from gateway.api.problems import FieldError, Problem, validation_problem
from gateway.bsn import keyed_hash
from gateway.clock import local_now
from gateway.deadlines import DeadlineKind, meet_deadline, open_deadline
from gateway.events import record_event
from gateway.inbound.context import InboundContext, RetourDecision
from gateway.outbox import enqueue_ggk_heenbericht
from gateway.runtime import Runtime
from gateway.store.tables import Message, Toewijzing, Verzoek
from gateway.toewijzing_changes import OmvangWens, Wijziging, apply_wijziging, is_current, send_301
from gateway.toewijzing_history import record_version

log = structlog.get_logger("gateway.verzoeken")

OPEN_STATES = ("open", "in_onderzoek")
VERZOEK_RECEIVED = "verzoek.ontvangen"
VERZOEK_ANSWERED = "verzoek.beantwoord"
#: RedenWijziging 12: "Geinitieerd door de aanbieder" - a change honouring a VOW.
DOOR_AANBIEDER = "12"
AFGEWEZEN = "1"
IN_ONDERZOEK = "2"
REDENEN_AFWIJZING = {str(n) for n in range(1, 10)}


def _reference_taken(session: Session, law: Law, agb: str, referentie: str) -> bool:
    return (
        session.scalar(
            select(Verzoek.id).where(
                Verzoek.law == law.value,
                Verzoek.aanbieder_agb == agb,
                Verzoek.referentie_aanbieder == referentie,
            )
        )
        is not None
    )


def _open_request(session: Session, law: Law, agb: str, bsn_hash: str) -> Verzoek | None:
    return session.scalars(
        select(Verzoek).where(
            Verzoek.law == law.value,
            Verzoek.aanbieder_agb == agb,
            Verzoek.bsn_hash == bsn_hash,
            Verzoek.status.in_(OPEN_STATES),
        )
    ).first()


def current_at_aanbieder(
    session: Session, law: Law, agb: str, bsn_hash: str, today: date
) -> list[Toewijzing]:
    rows = session.scalars(
        select(Toewijzing)
        .where(Toewijzing.law == law.value, Toewijzing.aanbieder_agb == agb, Toewijzing.bsn_hash == bsn_hash)
        .order_by(Toewijzing.id)
    ).all()
    return [row for row in rows if is_current(row, today)]


def handle_vot(
    session: Session, runtime: Runtime, ctx: InboundContext, bericht: VerzoekOmToewijzing
) -> RetourDecision:
    decision = RetourDecision()
    bsn_hash = keyed_hash(bericht.client.bsn, runtime.settings.hash_key)
    seen: set[str] = set()
    for index, product in enumerate(bericht.producten, start=1):
        path = f"Client/AangevraagdeProducten/AangevraagdProduct[{index}]"
        ref = product.referentie_aanbieder
        if ref in seen or _reference_taken(session, ctx.law, ctx.aanbieder, ref):
            decision.reject(path, "9347")
        seen.add(ref)
    if decision.refused:
        return decision
    naam = bericht.client.naam
    for product in bericht.producten:
        inhoud: dict[str, Any] = {
            "client": {
                "geboortedatum": bericht.client.geboortedatum.isoformat(),
                "geslacht": bericht.client.geslacht,
                "naam": {
                    "achternaam": naam.achternaam,
                    "voorvoegsel": naam.voorvoegsel,
                    "voornamen": naam.voornamen,
                    "voorletters": naam.voorletters,
                },
            },
            "product": {"categorie": product.product.categorie, "code": product.product.code}
            if product.product
            else None,
            "toewijzing_ingangsdatum": product.toewijzing_ingangsdatum.isoformat(),
            "toewijzing_einddatum": product.toewijzing_einddatum.isoformat()
            if product.toewijzing_einddatum
            else None,
            "omvang": {
                "volume": product.omvang.volume,
                "eenheid": product.omvang.eenheid,
                "frequentie": product.omvang.frequentie,
            }
            if product.omvang
            else None,
            "budget": product.budget,
            "verwijzer": {
                "type": product.verwijzer.type,
                "naam": product.verwijzer.naam,
                "zorgverlenercode": product.verwijzer.zorgverlener_code,
            },
            "commentaar": product.commentaar,
        }
        verzoek = _store(
            session, runtime, ctx, "vot", product.referentie_aanbieder, bericht.client.bsn, bsn_hash, inhoud
        )
        decision.events.append((VERZOEK_RECEIVED, _event_data(verzoek)))
    return decision


def handle_vow(
    session: Session, runtime: Runtime, ctx: InboundContext, bericht: VerzoekOmWijziging
) -> RetourDecision:
    decision = RetourDecision()
    bsn_hash = keyed_hash(bericht.bsn, runtime.settings.hash_key)
    verzoek_path = "Client/Verzoek"
    if _reference_taken(session, ctx.law, ctx.aanbieder, bericht.referentie_aanbieder):
        decision.reject(verzoek_path, "9347")
    if _open_request(session, ctx.law, ctx.aanbieder, bsn_hash) is not None:
        decision.reject(verzoek_path, "9374")
    current = {
        row.id: row for row in current_at_aanbieder(session, ctx.law, ctx.aanbieder, bsn_hash, ctx.today)
    }
    for index, nummer in enumerate(bericht.ongewijzigd, start=1):
        if nummer not in current:
            decision.reject(f"{verzoek_path}/OngewijzigdeProducten/OngewijzigdProduct[{index}]", "9350")
    for index, wijziging in enumerate(bericht.te_wijzigen, start=1):
        path = f"{verzoek_path}/TeWijzigenProducten/TeWijzigenProduct[{index}]"
        row = current.get(wijziging.toewijzingnummer)
        if row is None:
            decision.reject(path, "9351")
            continue
        if wijziging.gewenste_ingangsdatum <= bericht.header.dagtekening and (
            wijziging.gewenste_ingangsdatum != row.ingangsdatum
        ):
            decision.reject(path, "9357")
        if (
            wijziging.budget is not None
            and wijziging.budget != row.budget
            and (wijziging.gewenste_ingangsdatum != row.ingangsdatum)
        ):
            decision.reject(path, "9373")
    named = set(bericht.ongewijzigd) | {w.toewijzingnummer for w in bericht.te_wijzigen}
    if set(current) - named:
        decision.reject(verzoek_path, "9349")
    if decision.refused:
        return decision
    inhoud = {
        "reden_verzoek": bericht.reden_verzoek,
        "ongewijzigd": list(bericht.ongewijzigd),
        "te_wijzigen": [_te_wijzigen_json(w) for w in bericht.te_wijzigen],
        "nieuw": [_nieuw_json(n) for n in bericht.nieuw],
    }
    verzoek = _store(
        session, runtime, ctx, "vow", bericht.referentie_aanbieder, bericht.bsn, bsn_hash, inhoud
    )
    decision.events.append((VERZOEK_RECEIVED, _event_data(verzoek)))
    return decision


def _omvang_json(omvang: Any) -> dict[str, Any] | None:
    if omvang is None:
        return None
    return {"volume": omvang.volume, "eenheid": omvang.eenheid, "frequentie": omvang.frequentie}


def _te_wijzigen_json(w: TeWijzigenProduct) -> dict[str, Any]:
    return {
        "toewijzingnummer": w.toewijzingnummer,
        "gewenste_ingangsdatum": w.gewenste_ingangsdatum.isoformat(),
        "einddatum": w.einddatum.isoformat() if w.einddatum else None,
        "omvang": _omvang_json(w.omvang),
        "budget": w.budget,
    }


def _nieuw_json(n: NieuwProduct) -> dict[str, Any]:
    return {
        "product": {"categorie": n.product.categorie, "code": n.product.code} if n.product else None,
        "gewenste_ingangsdatum": n.gewenste_ingangsdatum.isoformat(),
        "einddatum": n.einddatum.isoformat() if n.einddatum else None,
        "omvang": _omvang_json(n.omvang),
        "budget": n.budget,
    }


def _store(
    session: Session,
    runtime: Runtime,
    ctx: InboundContext,
    soort: str,
    referentie: str,
    bsn: str,
    bsn_hash: str,
    inhoud: dict[str, Any],
) -> Verzoek:
    verzoek = Verzoek(
        law=ctx.law.value,
        soort=soort,
        aanbieder_agb=ctx.aanbieder,
        referentie_aanbieder=referentie,
        bsn=bsn,
        bsn_hash=bsn_hash,
        inbound_id=ctx.inbound_id,
        status="open",
        inhoud=inhoud,
        received_at=ctx.received_at,
    )
    session.add(verzoek)
    session.flush()
    # The 301 or 319 is due within 5 werkdagen; one deadline per received message.
    open_deadline(
        session, runtime, DeadlineKind.ANTWOORD_VERZOEK, inbound_id=ctx.inbound_id, start=ctx.received_at
    )
    log.info("verzoek_received", verzoek_id=verzoek.id, soort=soort, inbound_id=ctx.inbound_id)
    return verzoek


def _event_data(verzoek: Verzoek) -> dict[str, Any]:
    return {
        "verzoek_id": verzoek.id,
        "soort": verzoek.soort,
        "aanbieder": verzoek.aanbieder_agb,
        "referentie_aanbieder": verzoek.referentie_aanbieder,
        "wet": verzoek.law,
    }


# --- the back-office's answers -----------------------------------------------------------


def _require_open(verzoek: Verzoek) -> None:
    if verzoek.status not in OPEN_STATES:
        raise Problem(
            409,
            "verzoek-closed",
            "This verzoek was already answered",
            f"verzoek {verzoek.id} is {verzoek.status}",
        )


def answer_319(
    session: Session, runtime: Runtime, verzoek: Verzoek, antwoord: str, reden_afwijzing: str | None
) -> Message:
    """Reject (1, with a reden) or put in onderzoek (2): a 319 to the aanbieder."""
    _require_open(verzoek)
    if antwoord == AFGEWEZEN and reden_afwijzing not in REDENEN_AFWIJZING:
        raise validation_problem(
            [
                FieldError(
                    "reden_afwijzing", "code-list-RedenAfwijzingVerzoek", "reden_afwijzing must be 1 to 9"
                )
            ]
        )
    if antwoord == IN_ONDERZOEK and verzoek.status == "in_onderzoek":
        raise Problem(409, "verzoek-in-onderzoek", "This verzoek is already in onderzoek")
    law = Law(verzoek.law)
    today = local_now(runtime.clock).date()

    def render(identificatie: str) -> bytes:
        return render_antwoord(
            Antwoordbericht(
                header=BerichtHeader(
                    law=law,
                    afzender=runtime.settings.gemeentecode,
                    ontvanger=verzoek.aanbieder_agb,
                    identificatie=identificatie,
                    dagtekening=today,
                ),
                referentie_aanbieder=verzoek.referentie_aanbieder,
                verzoek_antwoord=antwoord,
                reden_afwijzing=reden_afwijzing if antwoord == AFGEWEZEN else None,
            )
        )

    message = enqueue_ggk_heenbericht(
        session,
        runtime,
        functie=law.function_name(319),
        law=law.value,
        receiver=verzoek.aanbieder_agb,
        render_payload=render,
        beschikking_id=None,
        bsn_hash=verzoek.bsn_hash,
    )
    meet_deadline(session, runtime, DeadlineKind.ANTWOORD_VERZOEK, inbound_id=verzoek.inbound_id)
    verzoek.status = "afgewezen" if antwoord == AFGEWEZEN else "in_onderzoek"
    verzoek.answered_at = runtime.clock.now()
    verzoek.answer_message_id = message.id
    record_event(
        session,
        runtime,
        VERZOEK_ANSWERED,
        message_id=message.id,
        verzoek_id=verzoek.id,
        antwoord=verzoek.status,
    )
    return message


def honour_vow(session: Session, runtime: Runtime, verzoek: Verzoek, api_client_id: int | None) -> Message:
    """Apply what the VOW asks and send one 301 carrying the ReferentieAanbieder."""
    _require_open(verzoek)
    if verzoek.soort != "vow":
        raise Problem(409, "not-a-vow", "Honour a VOT by posting the beschikking that grants it")
    law = Law(verzoek.law)
    today = local_now(runtime.clock).date()
    anchor: Toewijzing | None = None
    for item in verzoek.inhoud["te_wijzigen"]:
        row = session.get(Toewijzing, item["toewijzingnummer"], with_for_update=True)
        if row is None or not is_current(row, today):
            raise Problem(
                409,
                "toewijzing-changed",
                "A toewijzing named in the VOW is no longer current",
                f"toewijzing {item['toewijzingnummer']}; reject the VOW instead",
            )
        anchor = anchor or row
        omvang = item["omvang"]
        apply_wijziging(
            session,
            runtime,
            row,
            Wijziging(
                einddatum=date.fromisoformat(item["einddatum"]) if item["einddatum"] else None,
                omvang=OmvangWens(**omvang) if omvang else None,
                budget=item["budget"],
                ingangsdatum=date.fromisoformat(item["gewenste_ingangsdatum"]),
                reden_wijziging=DOOR_AANBIEDER,
                referentie_aanbieder=verzoek.referentie_aanbieder,
            ),
            oorzaak="verzoek",
            api_client_id=api_client_id,
        )
    existing = current_at_aanbieder(session, law, verzoek.aanbieder_agb, verzoek.bsn_hash, today)
    anchor = anchor or (existing[0] if existing else None)
    if anchor is None:
        raise Problem(409, "no-current-toewijzing", "The client has no current toewijzing at this aanbieder")
    for item in verzoek.inhoud["nieuw"]:
        _new_from_vow(session, runtime, anchor, item, verzoek.referentie_aanbieder, api_client_id)
    session.flush()
    message = send_301(session, runtime, law, anchor)
    meet_deadline(session, runtime, DeadlineKind.ANTWOORD_VERZOEK, inbound_id=verzoek.inbound_id)
    verzoek.status = "toegekend"
    verzoek.answered_at = runtime.clock.now()
    verzoek.answer_message_id = message.id
    record_event(
        session, runtime, VERZOEK_ANSWERED, message_id=message.id, verzoek_id=verzoek.id, antwoord="toegekend"
    )
    return message


def _new_from_vow(
    session: Session,
    runtime: Runtime,
    anchor: Toewijzing,
    item: dict[str, Any],
    referentie: str,
    api_client_id: int | None,
) -> Toewijzing:
    local = local_now(runtime.clock)
    now = runtime.clock.now()
    product = item["product"] or {}
    omvang = item["omvang"] or {}
    row = Toewijzing(
        beschikking_id=anchor.beschikking_id,
        law=anchor.law,
        bsn_hash=anchor.bsn_hash,
        aanbieder_agb=anchor.aanbieder_agb,
        leveringsvorm="ZIN",
        categorie=product.get("categorie"),
        productcode=product.get("code"),
        ingangsdatum=date.fromisoformat(item["gewenste_ingangsdatum"]),
        einddatum=date.fromisoformat(item["einddatum"]) if item["einddatum"] else None,
        volume=omvang.get("volume"),
        eenheid=omvang.get("eenheid"),
        frequentie=omvang.get("frequentie"),
        budget=item["budget"],
        toewijzingsdatum=local.date(),
        toewijzingstijd=local.time().replace(microsecond=0),
        referentie_aanbieder=referentie,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record_version(session, runtime, row, "verzoek", api_client_id)
    return row
