"""Accepting a beschikking: store the decision, its toewijzingen and every message
they cause, in one transaction.

Either all of it is stored and the back-office gets 201, or none of it and it gets a
problem+json; nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import func, select
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
from gateway.bulk_ids import assign_ids
from gateway.clock import local_now
from gateway.events import BESCHIKKING_ACCEPTED, new_event, record_events
from gateway.intake_rules import check_beschikking, overlaps, product_period
from gateway.outbox import HeenberichtDraft, enqueue_ggk_heenbericht, enqueue_ggk_heenberichten
from gateway.pgb_policy import PgbPlan, check_request
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Event, Message, MessageToewijzing, Toewijzing
from gateway.toewijzing_history import record_versions
from gateway.toewijzing_messages import (
    build_toewijzingsbericht,
    carried_toewijzingen,
    current_toewijzingen,
)

log = structlog.get_logger("gateway.intake")

#: Bound on the IN lists of the set-based lookups (SQLite limits parameters per statement).
_IN_CHUNK = 500


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
    [outcome] = accept_beschikkingen(session, runtime, [request], api_client_id, referentie)
    if isinstance(outcome, Problem):
        raise outcome
    return outcome


@dataclass
class _Accepted:
    """A request that passed every check, on its way into the database."""

    request: BeschikkingIn
    bsn_hash: str
    existing: list[Toewijzing]
    plans: dict[int, PgbPlan]
    beschikking: Beschikking
    rows: list[Toewijzing] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


def accept_beschikkingen(
    session: Session,
    runtime: Runtime,
    requests: Sequence[BeschikkingIn],
    api_client_id: int | None,
    referentie: tuple[str, str] | None = None,
) -> list[BeschikkingOut | Problem]:
    """:func:`accept_beschikking` for many independent requests at once; an outcome each.

    The requests must be independent: no two may concern the same client (BSN) or the
    same beschikkingnummer of a law - then storing them together is storing them one
    after the other (every check and every 301 looks only at the client's own rows),
    and the work is done set-based: one query for the duplicates, one for the clients'
    toewijzingen, one INSERT per table (insertmanyvalues, or on PostgreSQL an
    executemany with the ids taken first, :mod:`gateway.bulk_ids`), instead of some
    twenty round trips per decision. One request is the single endpoint's case.

    A request refused by a check (rules, PGB, duplicate, overlap) gets its Problem and
    leaves nothing behind. A Problem that only shows after writing (a 301 that breaks
    the schema) is raised: the caller must roll back all of it (for bulk intake: the
    savepoint around the group, then retry the lines one by one).
    """
    outcomes: list[BeschikkingOut | Problem | None] = [None] * len(requests)
    hashes = [keyed_hash(r.client.bsn, runtime.settings.hash_key) for r in requests]
    existing_by_client = _toewijzingen_of(session, set(hashes))
    taken = _taken_nummers(session, requests)
    now = runtime.clock.now()
    local = local_now(runtime.clock)
    accepted: list[tuple[int, _Accepted]] = []
    for index, (request, bsn_hash) in enumerate(zip(requests, hashes, strict=True)):
        law = request.wet
        existing = [r for r in existing_by_client.get(bsn_hash, ()) if r.law == law.value]
        errors = check_beschikking(request)
        pgb_errors, plans = check_request(runtime.settings.pgb, request, existing)
        errors += pgb_errors
        if errors:
            outcomes[index] = validation_problem(errors)
            continue
        exists = taken.get((law.value, request.beschikkingnummer))
        if exists is not None:
            outcomes[index] = Problem(
                409,
                "beschikking-exists",
                "This beschikking was already accepted",
                f"beschikkingnummer '{request.beschikkingnummer}' exists for {law.value} "
                f"(id {exists}); changes are sent as changes, not as a new beschikking",
            )
            continue
        overlap = _overlap_errors(request, existing)
        if overlap:
            outcomes[index] = validation_problem(overlap)
            continue
        client_record: dict[str, Any] = request.client.model_dump(
            mode="json", exclude={"bsn"}, exclude_none=True
        )
        beschikking = Beschikking(
            law=law.value,
            beschikkingnummer=request.beschikkingnummer,
            gemeentecode=runtime.settings.gemeentecode,
            bsn=request.client.bsn,
            bsn_hash=bsn_hash,
            client=client_record,
            verwijzer=request.verwijzer.model_dump(mode="json", exclude_none=True)
            if request.verwijzer
            else None,
            gebiedsteam=request.gebiedsteam,
            commentaar=request.commentaar,
            api_client_id=api_client_id,
            received_at=now,
        )
        accepted.append((index, _Accepted(request, bsn_hash, existing, plans, beschikking)))
    if not accepted:
        return _finished(outcomes)

    beschikkingen = [item.beschikking for _, item in accepted]
    assign_ids(session, beschikkingen)
    session.add_all(beschikkingen)
    session.flush()  # one INSERT ... RETURNING: the ids the toewijzingen refer to

    for _, item in accepted:
        request, beschikking = item.request, item.beschikking
        for product in request.producten:
            periode = product_period(request, product)
            item.rows.append(
                Toewijzing(
                    beschikking_id=beschikking.id,
                    law=beschikking.law,
                    bsn_hash=item.bsn_hash,
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
            )
    all_rows = [row for _, item in accepted for row in item.rows]
    assign_ids(session, all_rows)
    session.add_all(all_rows)
    session.flush()  # the row ids are the ToewijzingNummers
    if any(row.id > MAX_TOEWIJZINGNUMMER for row in all_rows):
        raise RuntimeError("ToewijzingNummer range exhausted")
    record_versions(session, runtime, all_rows, "beschikking", api_client_id, new_rows=True)

    _enqueue_301s(session, runtime, [item for _, item in accepted])

    events: list[Event] = []
    for index, item in accepted:
        request, beschikking, rows = item.request, item.beschikking, item.rows
        item.messages += pgb.after_beschikking(
            session, runtime, beschikking, rows, api_client_id, plans=item.plans
        )
        item.messages += eigen_bijdrage.after_provisions_changed(
            session,
            runtime,
            bsn_hash=item.bsn_hash,
            law=beschikking.law,
            trigger="beschikking",
            # The CAK is told the kostprijs of hulpmiddelen and woonvoorzieningen.
            kostprijzen={
                row.id: product.kostprijs
                for row, product in zip(rows, request.producten, strict=True)
                if product.kostprijs is not None
            },
        )
        events.append(
            new_event(
                runtime,
                BESCHIKKING_ACCEPTED,
                beschikking_id=beschikking.id,
                beschikkingnummer=beschikking.beschikkingnummer,
                wet=beschikking.law,
                toewijzingen=[r.id for r in rows],
                berichten=[m.id for m in item.messages],
            )
        )
        log.info(
            "beschikking_accepted",
            beschikking_id=beschikking.id,
            wet=beschikking.law,
            toewijzingen=len(rows),
            messages=[m.id for m in item.messages],
        )
        outcomes[index] = BeschikkingOut(
            id=beschikking.id,
            beschikkingnummer=beschikking.beschikkingnummer,
            wet=request.wet,
            toewijzingen=[toewijzing_out(r) for r in rows],
            berichten=[bericht_ref(m) for m in item.messages],
        )
    record_events(session, runtime, events)
    session.flush()  # all writes happen here, inside the caller's savepoint
    return _finished(outcomes)


def _finished(outcomes: list[BeschikkingOut | Problem | None]) -> list[BeschikkingOut | Problem]:
    done = [outcome for outcome in outcomes if outcome is not None]
    if len(done) != len(outcomes):
        raise RuntimeError("a request without an outcome")
    return done


def _toewijzingen_of(session: Session, hashes: set[str]) -> dict[str, list[Toewijzing]]:
    """Every stored toewijzing of these clients (all laws), by BSN hash, in id order."""
    found: dict[str, list[Toewijzing]] = {}
    ordered = sorted(hashes)
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        for row in session.scalars(
            select(Toewijzing).where(Toewijzing.bsn_hash.in_(chunk)).order_by(Toewijzing.id)
        ):
            found.setdefault(row.bsn_hash, []).append(row)
    return found


def _taken_nummers(session: Session, requests: Sequence[BeschikkingIn]) -> dict[tuple[str, str], int]:
    """(law, beschikkingnummer) -> id of the stored beschikking, for the requests' numbers."""
    wanted = {(r.wet.value, r.beschikkingnummer) for r in requests}
    nummers = sorted({nummer for _, nummer in wanted})
    taken: dict[tuple[str, str], int] = {}
    for start in range(0, len(nummers), _IN_CHUNK):
        for law, nummer, id_ in session.execute(
            select(Beschikking.law, Beschikking.beschikkingnummer, Beschikking.id).where(
                Beschikking.beschikkingnummer.in_(nummers[start : start + _IN_CHUNK])
            )
        ):
            if (law, nummer) in wanted:
                taken[(law, nummer)] = id_
    return taken


def _enqueue_301s(session: Session, runtime: Runtime, items: list[_Accepted]) -> None:
    """A 301 per client per ZIN aanbieder (OP087), for all accepted requests at once."""
    today = local_now(runtime.clock).date()
    wanted: list[tuple[_Accepted, str]] = []
    for item in items:
        receivers = {r.aanbieder_agb for r in item.rows if r.leveringsvorm == Leveringsvorm.ZIN.value}
        wanted += [(item, agb) for agb in sorted(receivers)]
    if not wanted:
        return
    previous = _previous_301s(session, {item.bsn_hash for item, _ in wanted})
    drafts: list[HeenberichtDraft] = []
    carried: list[list[Toewijzing]] = []
    for item, agb in wanted:
        law = item.request.wet
        rows = carried_toewijzingen(
            [*item.existing, *item.rows],
            agb=agb,
            today=today,
            previous_301=previous.get((item.bsn_hash, agb, law.function_name(301))),
        )
        carried.append(rows)
        drafts.append(
            HeenberichtDraft(
                functie=law.function_name(301),
                law=law.value,
                receiver=agb,
                render_payload=_renderer(runtime, law, agb, today, item.beschikking, rows),
                beschikking_id=item.beschikking.id,
                bsn_hash=item.bsn_hash,
            )
        )
    messages = enqueue_ggk_heenberichten(session, runtime, drafts)
    for (item, _), message, rows in zip(wanted, messages, carried, strict=True):
        item.messages.append(message)
        session.add_all(MessageToewijzing(message_id=message.id, toewijzing_id=row.id) for row in rows)


def _previous_301s(session: Session, hashes: set[str]) -> dict[tuple[str, str, str], datetime]:
    """(bsn hash, receiver, functie) -> when the last message of that kind to it was made."""
    functies = [law.function_name(301) for law in Law]
    ordered = sorted(hashes)
    found: dict[tuple[str, str, str], datetime] = {}
    for start in range(0, len(ordered), _IN_CHUNK):
        rows = session.execute(
            select(Message.bsn_hash, Message.receiver, Message.message_type, func.max(Message.created_at))
            .where(
                Message.bsn_hash.in_(ordered[start : start + _IN_CHUNK]),
                Message.message_type.in_(functies),
            )
            .group_by(Message.bsn_hash, Message.receiver, Message.message_type)
        )
        for bsn_hash, receiver, functie, created in rows:
            if bsn_hash is not None and created is not None:
                found[(bsn_hash, receiver, functie)] = created
    return found


def _renderer(
    runtime: Runtime, law: Law, agb: str, today: date, beschikking: Beschikking, rows: list[Toewijzing]
) -> Callable[[str], bytes]:
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

    return render


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
    message = enqueue_ggk_heenbericht(
        session,
        runtime,
        functie=law.function_name(301),
        law=law.value,
        receiver=agb,
        render_payload=_renderer(runtime, law, agb, today, beschikking, rows),
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


def _overlap_errors(request: BeschikkingIn, existing: Sequence[Toewijzing]) -> list[FieldError]:
    """TR302 against what the client already has: no overlapping toewijzing of one product."""
    live = [row for row in existing if row.reden_wijziging != "13"]  # a deleted toewijzing never existed
    errors: list[FieldError] = []
    for index, product in enumerate(request.producten):
        periode = product_period(request, product)
        for row in live:
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
    return errors
