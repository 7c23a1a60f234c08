"""Eigen bijdrage: what the CAK must know (iEb-style WMO405/407 out, 406/408 in).

The CAK collects the eigen bijdrage **per person, not per provision**: it gets a start
when the client's first chargeable Wmo provision starts and a stop when the last one
ends (WMO405); beschermd wonen has its own arrangement (WMO407). Which provisions are
chargeable is the gemeente's policy (:class:`gateway.settings.EigenBijdragePolicy`):
by default every Wmo maatwerkvoorziening ZIN or PGB in categories 01-14, beschermd
wonen (15) separately, never opvang (16-18), configured exempt product codes
(cliëntondersteuning ...) or youth care.

How the picture per person (``cak_personen``) moves - every call recomputes it from the
toewijzingen, so a repeated call changes nothing (idempotent):

- nothing reported yet, chargeable provisions exist -> **start** at the earliest
  provision start; a second chargeable product later sends nothing;
- running, and a change leaves every provision with an end that is earlier than the
  person's end known so far (or sets an end where all were open) -> **stop** at the
  latest remaining end; ending one of two provisions sends nothing; an extension sends
  nothing (the CAK's period is open until a stop);
- running, and no chargeable provision is left (all deleted) -> stop at the start date;
- stopped, and a provision now runs past the stop -> a new start the day after it.

With ``start_trigger = "start_bericht"`` a ZIN provision counts only once the
aanbieder's 305 reported the care started (from its Begindatum), and a definitive 307
ends it; a PGB has no aanbieder and counts from its granted start. Limits of this
version: a provision that simply runs out at its planned einddatum, without any change,
is not stopped by a later sweep; an earlier start date on a new provision does not move
a reported start (correct it through herstel).

The CAK answers each message with a retour (WMO406/408). Error codes are an
*uitnodiging tot herstel*: a correction task (``cak_herstel_taken``) and the event
``cak.herstel_gevraagd``; the back-office corrects
(:func:`gateway.eigen_bijdrage_herstel.corrigeer`) and the new
message names the old one (``HerstelVan`` in the payload, ``corrects_message_id`` in
the store). The report is due within a month of granting, four months for PGB-only
reports (deadline kinds ``cak_melding`` / ``cak_melding_pgb``), met by the CAK's OK retour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.cak import Regeling, Soort, read_retour_codes
from connectors.cak.model import ACCEPTED, NOT_ASSESSED
from gateway.clock import local_now
from gateway.deadlines import DeadlineKind, meet_deadline, open_deadline
from gateway.eigen_bijdrage_melding import (
    CAK,
    WMO,
    Provision,
    enqueue_melding,
    regeling_of,
    store_kostprijs,
    summarise,
)
from gateway.events import record_event
from gateway.runtime import Runtime
from gateway.store.cak_tables import CakHerstelTaak, CakMelding, CakPersoon
from gateway.store.database import transaction
from gateway.store.tables import InboundMessage, Message, Toewijzing
from gateway.store.zorglevering_tables import ZorgleveringMelding, ZorgleveringSoort

if TYPE_CHECKING:
    from gateway.inbound.ggk_heenberichten import InboundHandler

log = structlog.get_logger("gateway.eigen_bijdrage")

HERSTEL_GEVRAAGD = "cak.herstel_gevraagd"
LOPEND, GESTOPT = "lopend", "gestopt"
#: RedenBeeindiging 20 (tijdelijk): care pauses, the provision has not ended.
TIJDELIJK = "20"

#: Envelope functie -> reader of a retour the CAK sends us: (all codes, codes per toewijzingnummer).
RETOUR_READERS: dict[str, Callable[[bytes], tuple[list[str], dict[int, tuple[str, ...]]]]] = {
    Regeling.EIGEN_BIJDRAGE.retour_functie: read_retour_codes,
    Regeling.BESCHERMD_WONEN.retour_functie: read_retour_codes,
}
#: Envelope functie -> handler of a heenbericht the CAK sends us (none in iEb so far).
INBOUND_HANDLERS: dict[str, InboundHandler] = {}


def chargeable_provisions(session: Session, runtime: Runtime, bsn_hash: str) -> list[Provision]:
    """The client's Wmo provisions the CAK must know about, with the period that counts."""
    policy = runtime.settings.eigen_bijdrage
    rows = session.scalars(
        select(Toewijzing)
        .where(
            Toewijzing.bsn_hash == bsn_hash,
            Toewijzing.law == WMO,
            Toewijzing.reden_wijziging.is_distinct_from("13"),  # deleted: never existed
        )
        .order_by(Toewijzing.id)
    ).all()
    found: list[Provision] = []
    for row in rows:
        regeling = regeling_of(policy, row.categorie, row.productcode)
        if regeling is None or row.leveringsvorm not in policy.leveringsvormen:
            continue
        begin, end = row.ingangsdatum, row.einddatum
        if policy.start_trigger == "start_bericht" and row.leveringsvorm == "ZIN":
            reported = _reported_period(session, row)
            if reported is None:
                continue
            begin, stopped = reported
            if stopped is not None and (end is None or stopped < end):
                end = stopped
        found.append(Provision(row, regeling, begin, end))
    return found


def _reported_period(session: Session, row: Toewijzing) -> tuple[date, date | None] | None:
    """(start, definitive stop) as the aanbieder reported them (305/307), or None before a start."""
    meldingen = session.scalars(
        select(ZorgleveringMelding).where(
            ZorgleveringMelding.law == row.law,
            ZorgleveringMelding.toewijzingnummer == row.id,
            ZorgleveringMelding.actueel.is_(True),
        )
    ).all()
    starts = [m.begindatum for m in meldingen if m.soort == ZorgleveringSoort.START]
    if not starts:
        return None
    stops = [
        m.einddatum
        for m in meldingen
        if m.soort == ZorgleveringSoort.STOP and m.einddatum is not None and m.reden_beeindiging != TIJDELIJK
    ]
    return min(starts), (max(stops) if stops else None)


def after_provisions_changed(
    session: Session,
    runtime: Runtime,
    *,
    bsn_hash: str,
    law: str,
    trigger: str,
    kostprijzen: Mapping[int, int] | None = None,
) -> list[Message]:
    """The client's provisions changed (``trigger``: beschikking, wijziging, start, stop):
    queue a WMO405/407 start or stop when the CAK's picture of the person changes.

    ``kostprijzen`` (ToewijzingNummer -> eurocent) records the kostprijs of new hulpmiddelen
    and woonvoorzieningen as the back-office gave it.
    """
    policy = runtime.settings.eigen_bijdrage
    if law != WMO or not policy.enabled:
        return []  # youth care never goes to the CAK
    for toewijzing_id, kostprijs in (kostprijzen or {}).items():
        store_kostprijs(session, runtime, toewijzing_id, kostprijs)
    if policy.start_trigger == "beschikking" and trigger in ("start", "stop"):
        return []  # the aanbieder's reports do not move a picture drawn from the beschikking
    provisions = chargeable_provisions(session, runtime, bsn_hash)
    messages: list[Message] = []
    for regeling in Regeling:
        mine = [p for p in provisions if p.regeling is regeling]
        message = _reconcile(session, runtime, bsn_hash, regeling, mine, trigger)
        if message is not None:
            messages.append(message)
    return messages


def _reconcile(
    session: Session,
    runtime: Runtime,
    bsn_hash: str,
    regeling: Regeling,
    provisions: list[Provision],
    trigger: str,
) -> Message | None:
    persoon = session.scalars(
        select(CakPersoon)
        .where(CakPersoon.bsn_hash == bsn_hash, CakPersoon.regeling == regeling.value)
        .with_for_update()
    ).first()
    end = (
        None
        if not provisions or any(p.end is None for p in provisions)
        else max(p.end for p in provisions if p.end)
    )
    if persoon is None or persoon.status == GESTOPT:
        after = persoon.einddatum if persoon is not None else None
        running = [p for p in provisions if after is None or p.end is None or p.end > after]
        if not running:
            return None
        begin = min(p.begin for p in running)
        if after is not None:
            begin = max(begin, after + timedelta(days=1))
        granted = min(p.row.toewijzingsdatum for p in running)
        message = _send(session, runtime, bsn_hash, regeling, Soort.START, begin, running, trigger, granted)
        if persoon is None:
            persoon = CakPersoon(bsn_hash=bsn_hash, regeling=regeling.value, voorzieningen=[])
            session.add(persoon)
        persoon.status, persoon.begindatum, persoon.einddatum = LOPEND, begin, None
        _remember(persoon, runtime, message, running, end)
        return message
    if not provisions:  # every provision was deleted: the bijdrage ends where it began
        gone = session.scalars(select(Toewijzing).where(Toewijzing.id.in_(persoon.voorzieningen))).all()
        stopped = [Provision(r, regeling, r.ingangsdatum, r.einddatum) for r in gone]
        return _stop(session, runtime, persoon, bsn_hash, regeling, persoon.begindatum, stopped, trigger)
    if end is not None and (persoon.geplande_einddatum is None or end < persoon.geplande_einddatum):
        return _stop(session, runtime, persoon, bsn_hash, regeling, end, provisions, trigger)
    persoon.geplande_einddatum = end  # extended, or unchanged: the CAK's period stays open
    persoon.voorzieningen = sorted({*persoon.voorzieningen, *(p.row.id for p in provisions)})
    persoon.updated_at = runtime.clock.now()
    return None


def _stop(
    session: Session,
    runtime: Runtime,
    persoon: CakPersoon,
    bsn_hash: str,
    regeling: Regeling,
    datum: date,
    provisions: list[Provision],
    trigger: str,
) -> Message | None:
    if not provisions:
        return None
    today = local_now(runtime.clock).date()
    message = _send(session, runtime, bsn_hash, regeling, Soort.STOP, datum, provisions, trigger, today)
    persoon.status, persoon.einddatum = GESTOPT, datum
    _remember(persoon, runtime, message, provisions, datum)
    return message


def _remember(
    persoon: CakPersoon, runtime: Runtime, message: Message, provisions: Iterable[Provision], end: date | None
) -> None:
    persoon.geplande_einddatum = end
    persoon.voorzieningen = sorted({p.row.id for p in provisions})
    persoon.laatste_message_id = message.id
    persoon.updated_at = runtime.clock.now()


def _send(
    session: Session,
    runtime: Runtime,
    bsn_hash: str,
    regeling: Regeling,
    soort: Soort,
    datum: date,
    provisions: list[Provision],
    oorzaak: str,
    granted: date,
) -> Message:
    summaries = [summarise(session, runtime, p) for p in provisions]
    message = enqueue_melding(
        session,
        runtime,
        bsn_hash=bsn_hash,
        regeling=regeling,
        soort=soort,
        datum=datum,
        voorzieningen=summaries,
        oorzaak=oorzaak,
        corrects=None,
    )
    policy = runtime.settings.eigen_bijdrage
    pgb_only = all(p.row.leveringsvorm == "PGB" for p in provisions)
    kind = DeadlineKind.CAK_MELDING_PGB if pgb_only else DeadlineKind.CAK_MELDING
    months = policy.meldtermijn_maanden_pgb if pgb_only else policy.meldtermijn_maanden
    open_deadline(session, runtime, kind, message_id=message.id, start=granted, months=months)
    log.info(
        "cak_melding_queued",
        message_id=message.id,
        regeling=regeling.value,
        soort=soort.name.lower(),
        oorzaak=oorzaak,
    )
    return message


# --- the CAK's retours -----------------------------------------------------------------------


def on_retour(
    session: Session, runtime: Runtime, message: Message, inbound: InboundMessage, codes: list[str]
) -> None:
    """The CAK answered ``message``: error codes open a herstel task, an OK meets the deadline."""
    melding = session.scalars(select(CakMelding).where(CakMelding.message_id == message.id)).first()
    if melding is None:
        return
    herstel = [c for c in codes if c not in (ACCEPTED, NOT_ASSESSED)]
    if not herstel:
        melding.status = "answered"
        _meet_reporting_deadlines(session, runtime, melding)
        return
    melding.status = "herstel"
    taak = CakHerstelTaak(
        message_id=message.id,
        inbound_id=inbound.id,
        bsn_hash=melding.bsn_hash,
        codes=herstel,
        status="open",
        created_at=runtime.clock.now(),
    )
    session.add(taak)
    session.flush()
    record_event(
        session,
        runtime,
        HERSTEL_GEVRAAGD,
        message_id=message.id,
        taak_id=taak.id,
        regeling=melding.regeling,
        soort=melding.soort,
        codes=herstel,
    )
    log.info("cak_herstel_gevraagd", message_id=message.id, taak_id=taak.id, codes=herstel)


def _meet_reporting_deadlines(session: Session, runtime: Runtime, melding: CakMelding) -> None:
    """The report is in: meet the deadline of this message and of every message it corrects."""
    current: CakMelding | None = melding
    seen: set[int] = set()
    while current is not None and current.message_id not in seen:
        seen.add(current.message_id)
        for kind in (DeadlineKind.CAK_MELDING, DeadlineKind.CAK_MELDING_PGB):
            meet_deadline(session, runtime, kind, message_id=current.message_id)
        if current.corrects_message_id is None:
            break
        current = session.scalars(
            select(CakMelding).where(CakMelding.message_id == current.corrects_message_id)
        ).first()


__all__ = [
    "CAK",
    "HERSTEL_GEVRAAGD",
    "INBOUND_HANDLERS",
    "RETOUR_READERS",
    "Provision",
    "after_provisions_changed",
    "chargeable_provisions",
    "on_retour",
    "regeling_of",
]


def sweep_ended(runtime: Runtime, *, batch_size: int = 200) -> int:
    """Report a stop for every person whose chargeable provisions ran out by themselves.

    A provision that reaches its planned einddatum without any change triggers nothing
    else; this sweep (run by the background scanner) finds persons still ``lopend`` whose
    planned end lies before today and reports the stop on that end date. Returns how
    many stops it queued.
    """
    if not runtime.settings.eigen_bijdrage.enabled:
        return 0
    today = local_now(runtime.clock).date()
    sent = 0
    with transaction(runtime.sessions) as session:
        personen = session.scalars(
            select(CakPersoon)
            .where(
                CakPersoon.status == LOPEND,
                CakPersoon.geplande_einddatum.is_not(None),
                CakPersoon.geplande_einddatum < today,
            )
            .order_by(CakPersoon.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        for persoon in personen:
            assert persoon.geplande_einddatum is not None
            regeling = Regeling(persoon.regeling)
            rows = session.scalars(select(Toewijzing).where(Toewijzing.id.in_(persoon.voorzieningen))).all()
            ended = [Provision(r, regeling, r.ingangsdatum, r.einddatum) for r in rows]
            if (
                _stop(
                    session,
                    runtime,
                    persoon,
                    persoon.bsn_hash,
                    regeling,
                    persoon.geplande_einddatum,
                    ended,
                    "einde",
                )
                is not None
            ):
                sent += 1
    if sent:
        log.info("cak_natural_ends_reported", stops=sent)
    return sent
