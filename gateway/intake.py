"""Accepting a beschikking: store the decision, its toewijzingen and every message
they cause, in one transaction.

Either all of it is stored and the back-office gets 201, or none of it and it gets a
problem+json; nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.orm import Session, class_mapper
from sqlalchemy.orm.attributes import set_committed_value

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
from gateway.bulk_ids import insert_and_reserve
from gateway.clock import local_now
from gateway.events import BESCHIKKING_ACCEPTED, record_new_events
from gateway.intake_rules import check_beschikking, overlaps, product_period
from gateway.outbox import HeenberichtDraft, enqueue_ggk_heenbericht, insert_ggk_heenberichten
from gateway.pgb_policy import PgbPlan, check_request
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Message, MessageState, MessageToewijzing, Toewijzing
from gateway.toewijzing_history import insert_first_versions
from gateway.toewijzing_messages import (
    build_toewijzingsbericht,
    carried_toewijzingen,
    current_toewijzingen,
)

log = structlog.get_logger("gateway.intake")

_T = TypeVar("_T")

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
    #: The beschikking's columns, as inserted (``id`` set by the INSERT).
    values: dict[str, Any]
    #: The stored beschikking and toewijzingen as objects (transient: not in the session).
    beschikking: Beschikking | None = None
    rows: list[Toewijzing] = field(default_factory=list)
    berichten: list[BerichtRef] = field(default_factory=list)


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
    toewijzingen, one query for the new rows' ids (:mod:`gateway.bulk_ids`) and one
    Core INSERT per table (``executemany`` of plain rows, through the models' tables so
    the columns' types - encryption at rest included - apply), instead of some twenty
    round trips and seven ORM objects per decision. A message knows its id before it
    is inserted, so it goes in once, rendered and queued. One request is the single
    endpoint's case.

    The beschikking and toewijzing objects the rest of the work reads (the 301, the PGB
    and CAK reports) are transient: built with their stored values and ids, never added
    to the session (so never inserted twice); ``toewijzing.beschikking`` is set on them.

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
        values: dict[str, Any] = {
            "law": law.value,
            "beschikkingnummer": request.beschikkingnummer,
            "gemeentecode": runtime.settings.gemeentecode,
            "bsn": request.client.bsn,
            "bsn_hash": bsn_hash,
            "client": client_record,
            "verwijzer": request.verwijzer.model_dump(mode="json", exclude_none=True)
            if request.verwijzer
            else None,
            "gebiedsteam": request.gebiedsteam,
            "commentaar": request.commentaar,
            "api_client_id": api_client_id,
            "received_at": now,
        }
        accepted.append((index, _Accepted(request, bsn_hash, existing, plans, values)))
    if not accepted:
        return _finished(outcomes)

    items = [item for _, item in accepted]
    wanted_301s = [(item, agb) for item in items for agb in _zin_receivers(item.request)]
    # The beschikkingen go in; the toewijzingen' ids (their ToewijzingNummers) and the
    # 301s' ids (their BerichtIdentificaties) are known before those rows are built.
    _, (row_ids, message_ids) = insert_and_reserve(
        session,
        _BESCHIKKINGEN,
        [item.values for item in items],
        [(_TOEWIJZINGEN, sum(len(item.request.producten) for item in items)), (_MESSAGES, len(wanted_301s))],
    )
    if row_ids and row_ids[-1] > MAX_TOEWIJZINGNUMMER:
        raise RuntimeError("ToewijzingNummer range exhausted")
    next_row_id = iter(row_ids)
    row_values: list[dict[str, Any]] = []
    for item in items:
        request = item.request
        stored = item.beschikking = _transient(Beschikking, item.values)
        for product in request.producten:
            periode = product_period(request, product)
            values = {
                "id": next(next_row_id),
                "beschikking_id": stored.id,
                "law": stored.law,
                "bsn_hash": item.bsn_hash,
                "aanbieder_agb": product.aanbieder_agb or "",
                "leveringsvorm": product.leveringsvorm.value,
                "categorie": product.categorie,
                "productcode": product.code,
                "ingangsdatum": periode.begindatum,
                "einddatum": periode.einddatum,
                "volume": product.omvang.volume if product.omvang else None,
                "eenheid": product.omvang.eenheid if product.omvang else None,
                "frequentie": product.omvang.frequentie if product.omvang else None,
                "budget": product.budget,
                "toewijzingsdatum": local.date(),
                "toewijzingstijd": local.time().replace(microsecond=0),
                "reden_wijziging": None,
                "referentie_aanbieder": referentie[1]
                if referentie and referentie[0] == product.aanbieder_agb
                else None,
                "vervangt_id": None,
                "commentaar": product.commentaar,
                "created_at": now,
                "updated_at": now,
            }
            row_values.append(values)
            row = _transient(Toewijzing, values)
            set_committed_value(row, "beschikking", stored)  # what pgb reads; no lazy load
            item.rows.append(row)
    if row_values:  # an empty executemany would be one INSERT of defaults
        session.connection().execute(_INSERT_TOEWIJZING, row_values)
    all_rows = [row for item in items for row in item.rows]
    insert_first_versions(session, runtime, all_rows, "beschikking", api_client_id)

    _enqueue_301s(session, runtime, wanted_301s, message_ids)

    events: list[tuple[int | None, int | None, dict[str, Any], datetime]] = []
    accepted_logs: list[dict[str, Any]] = []
    # One logger for the batch: the module's lazy proxy builds a new one at every call.
    logger = log.bind()
    for index, item in accepted:
        request, beschikking, rows = item.request, item.beschikking, item.rows
        assert beschikking is not None  # set above, for every accepted item
        messages = pgb.after_beschikking(session, runtime, beschikking, rows, api_client_id, plans=item.plans)
        messages += eigen_bijdrage.after_provisions_changed(
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
        item.berichten += [bericht_ref(m) for m in messages]
        bericht_ids = [ref.id for ref in item.berichten]
        events.append(
            (
                None,
                beschikking.id,
                {
                    "beschikkingnummer": beschikking.beschikkingnummer,
                    "wet": beschikking.law,
                    "toewijzingen": [r.id for r in rows],
                    "berichten": bericht_ids,
                },
                runtime.clock.now(),
            )
        )
        accepted_logs.append(
            {
                "beschikking_id": beschikking.id,
                "wet": beschikking.law,
                "toewijzingen": len(rows),
                "messages": bericht_ids,
            }
        )
        outcomes[index] = BeschikkingOut(
            id=beschikking.id,
            beschikkingnummer=beschikking.beschikkingnummer,
            wet=request.wet,
            toewijzingen=[toewijzing_out(r) for r in rows],
            berichten=item.berichten,
        )
    record_new_events(session, runtime, BESCHIKKING_ACCEPTED, events)
    session.flush()  # what the PGB and CAK reports added to the session, inside the caller's savepoint
    # Logged only once everything is written: a group undone by this flush (and redone line
    # by line) must not have logged its lines as accepted under ids that were rolled back.
    for fields in accepted_logs:
        logger.info("beschikking_accepted", **fields)
    return _finished(outcomes)


_BESCHIKKINGEN: Table = Beschikking.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_TOEWIJZINGEN: Table = Toewijzing.__table__  # type: ignore[assignment]
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_LINKS: Table = MessageToewijzing.__table__  # type: ignore[assignment]
_INSERT_TOEWIJZING = insert(_TOEWIJZINGEN)
_INSERT_LINK = insert(_LINKS)


def _transient(cls: type[_T], values: Mapping[Any, Any]) -> _T:
    """A transient instance of the mapped ``cls`` holding ``values`` (every column given).

    Why not ``cls(**values)``: the constructor sends each value through the ORM's
    attribute events (history, backrefs), a tenth of a decision's CPU for objects that
    are only read; the ORM's own loading fills ``__dict__`` the same way. The instance
    is in no session and must not be added to one.
    """
    instance: _T = class_mapper(cls).class_manager.new_instance()  # class_mapper: configured first
    instance.__dict__.update(values)
    return instance


def _zin_receivers(request: BeschikkingIn) -> list[str]:
    """The aanbieders that get a 301 for this request's new toewijzingen, sorted (OP087)."""
    return sorted(
        {
            product.aanbieder_agb or ""
            for product in request.producten
            if product.leveringsvorm.value == Leveringsvorm.ZIN.value
        }
    )


def _finished(outcomes: list[BeschikkingOut | Problem | None]) -> list[BeschikkingOut | Problem]:
    done = [outcome for outcome in outcomes if outcome is not None]
    if len(done) != len(outcomes):
        raise RuntimeError("a request without an outcome")
    return done


def _toewijzingen_of(session: Session, hashes: set[str]) -> dict[str, list[Toewijzing]]:
    """Every stored toewijzing of these clients (all laws), by BSN hash, in id order.

    Read with a Core SELECT of the table (the column types decrypt as the ORM's would)
    into transient objects: the checks and the 301s only read them, and an ORM query
    cost more than the rest of a single decision's lookups. What the session still had
    pending is flushed first, as the ORM query's autoflush did.
    """
    session.flush()
    found: dict[str, list[Toewijzing]] = {}
    ordered = sorted(hashes)
    connection = session.connection()
    for start in range(0, len(ordered), _IN_CHUNK):
        for values in connection.execute(
            _TOEWIJZINGEN_OF, {"hashes": ordered[start : start + _IN_CHUNK]}
        ).mappings():
            row = _transient(Toewijzing, values)
            found.setdefault(row.bsn_hash, []).append(row)
    return found


def _taken_nummers(session: Session, requests: Sequence[BeschikkingIn]) -> dict[tuple[str, str], int]:
    """(law, beschikkingnummer) -> id of the stored beschikking, for the requests' numbers."""
    wanted = {(r.wet.value, r.beschikkingnummer) for r in requests}
    nummers = sorted({nummer for _, nummer in wanted})
    taken: dict[tuple[str, str], int] = {}
    connection = session.connection()
    for start in range(0, len(nummers), _IN_CHUNK):
        for law, nummer, id_ in connection.execute(_TAKEN, {"nummers": nummers[start : start + _IN_CHUNK]}):
            if (law, nummer) in wanted:
                taken[(law, nummer)] = id_
    return taken


_TOEWIJZINGEN_OF = (
    select(_TOEWIJZINGEN)
    .where(_TOEWIJZINGEN.c.bsn_hash.in_(bindparam("hashes", expanding=True)))
    .order_by(_TOEWIJZINGEN.c.id)
)
_TAKEN = select(_BESCHIKKINGEN.c.law, _BESCHIKKINGEN.c.beschikkingnummer, _BESCHIKKINGEN.c.id).where(
    _BESCHIKKINGEN.c.beschikkingnummer.in_(bindparam("nummers", expanding=True))
)


def _enqueue_301s(
    session: Session, runtime: Runtime, wanted: list[tuple[_Accepted, str]], ids: list[int]
) -> None:
    """A 301 per client per ZIN aanbieder (OP087), for all accepted requests at once,
    under the message ``ids`` reserved for them (in ``wanted``'s order)."""
    if not wanted:
        return
    today = local_now(runtime.clock).date()
    # The previous 301 only decides about toewijzingen that ended before today: look it up
    # only for the clients that have such a row for a receiver (rarely any, in intake).
    ended = {
        item.bsn_hash
        for item, agb in wanted
        if any(
            row.einddatum is not None and row.einddatum < today
            for row in (*item.existing, *item.rows)
            if row.aanbieder_agb == agb and row.leveringsvorm == Leveringsvorm.ZIN.value
        )
    }
    previous = _previous_301s(session, ended) if ended else {}
    drafts: list[HeenberichtDraft] = []
    links: list[dict[str, Any]] = []
    for (item, agb), message_id in zip(wanted, ids, strict=True):
        law = item.request.wet
        beschikking = item.beschikking
        assert beschikking is not None  # stored before the 301s
        rows = carried_toewijzingen(
            [*item.existing, *item.rows],
            agb=agb,
            today=today,
            previous_301=previous.get((item.bsn_hash, agb, law.function_name(301))),
        )
        links += [{"message_id": message_id, "toewijzing_id": row.id} for row in rows]
        drafts.append(
            HeenberichtDraft(
                functie=law.function_name(301),
                law=law.value,
                receiver=agb,
                render_payload=_renderer(runtime, law, agb, today, beschikking, rows),
                beschikking_id=beschikking.id,
                bsn_hash=item.bsn_hash,
            )
        )
        item.berichten.append(
            BerichtRef(
                id=message_id,
                type=law.function_name(301),
                state=MessageState.QUEUED,
                aanbieder_agb=agb,
                href=f"/api/v1/berichten/{message_id}",
            )
        )
    insert_ggk_heenberichten(session, runtime, drafts, ids)
    if links:
        session.connection().execute(_INSERT_LINK, links)


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
