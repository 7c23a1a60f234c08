"""The rules for 305 Start zorg and 307 Stop zorg (iJw and iWmo 3.2 alike).

An aanbieder reports when the care of a toewijzing starts and stops; the gemeente
checks each StartProduct/StopProduct against the toewijzing and against the reports
accepted earlier, and answers in the 306/308 retour. Each product is judged on its own:
a rejected product gets its rule's code (TRnnn -> 9nnn) and has no effect, the others
are stored and get 0200 from the renderer. The one in-message rule here (a stop ending
before it began) rejects the whole message with header code 0001 and stores nothing.

Choices where the standard's rule texts leave room (see also the report of issue 3):
- A Begindatum outside the toewijzing's period means the product cannot be linked to
  the toewijzing: TR019 (9019). No separate retourcode exists for it.
- A toewijzing with RedenWijziging 13 (verwijderd) cannot be linked either (9019).
- The key of a start and of its stops is law + BSN + ToewijzingNummer + Begindatum.
  For stops, TR413/TR414/TR415 decide about a further stop with the same key, so
  TR074 is applied to starts only. "Ander StopProduct" (TR413/TR415) excludes the stop
  that a StatusAanlevering 2 corrects; TR414 compares with the stop before it.
- StatusAanlevering 3 of a stop removes the current stop with the same Einddatum and
  RedenBeeindiging, or else the latest current stop of the key.
- Timeliness (reported within 5 werkdagen of the event, counted with
  :mod:`gateway.werkdagen` and the installation's holiday policy) does not reject: a
  late first report (StatusAanlevering 1) is accepted with a ``melding.te_laat`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.istandaard.model import Product
from connectors.istandaard.model_inbound import StartBericht, StartProduct, StopBericht, StopProduct
from gateway.bsn import keyed_hash
from gateway.inbound.context import InboundContext, RetourDecision
from gateway.runtime import Runtime
from gateway.store.tables import Toewijzing
from gateway.store.zorglevering_tables import ZorgleveringMelding, ZorgleveringSoort
from gateway.werkdagen import WerkdagKalender

START_PATH = "Client/StartProducten/StartProduct[{}]"
STOP_PATH = "Client/StopProducten/StopProduct[{}]"

EERSTE = "1"
GEWIJZIGD = "2"
VERWIJDEREN = "3"
#: RedenBeeindiging 20: tijdelijk beeindigd (care pauses; a new start may follow).
TIJDELIJK = "20"
#: RedenWijziging 13: the toewijzing was removed.
TOEWIJZING_VERWIJDERD = "13"
#: A start or stop must be reported within this many werkdagen of the event.
MELDTERMIJN_WERKDAGEN = 5

ZORG_GESTART = "zorg.gestart"
ZORG_GESTOPT = "zorg.gestopt"
START_VERWIJDERD = "zorg.start_verwijderd"
STOP_VERWIJDERD = "zorg.stop_verwijderd"
MELDING_TE_LAAT = "melding.te_laat"

TR019 = "9019"
TR063 = "9063"
TR069 = "9069"
TR071 = "9071"
TR074 = "9074"
TR326 = "9326"
TR413 = "9413"
TR414 = "9414"
TR415 = "9415"


@dataclass(frozen=True, slots=True)
class _Key:
    law: str
    bsn_hash: str
    toewijzingnummer: int
    begindatum: date


def handle_start(
    session: Session, runtime: Runtime, ctx: InboundContext, bericht: StartBericht
) -> RetourDecision:
    """Judge and store every StartProduct of a 305; the decision feeds the 306."""
    decision = RetourDecision.ok()
    if any(p.status_aanlevering not in (EERSTE, GEWIJZIGD, VERWIJDEREN) for p in bericht.producten):
        return RetourDecision.in_message_error()
    bsn_hash = keyed_hash(bericht.client.bsn, runtime.settings.hash_key)
    for index, product in enumerate(bericht.producten, start=1):
        path = START_PATH.format(index)
        toewijzing = _linked_toewijzing(session, ctx, bsn_hash, product)
        if toewijzing is None:
            decision.reject(path, TR019)
            continue
        key = _Key(ctx.law.value, bsn_hash, toewijzing.id, product.begindatum)
        code = _start_violation(session, key, product.status_aanlevering)
        if code is not None:
            decision.reject(path, code)
            continue
        _store_start(session, runtime, ctx, key, product, index)
        decision.events.append(_start_event(ctx, key, product.status_aanlevering))
        if product.status_aanlevering == EERSTE:
            _check_timeliness(
                runtime, decision, ctx, ZorgleveringSoort.START, key.toewijzingnummer, key.begindatum
            )
    return decision


def handle_stop(
    session: Session, runtime: Runtime, ctx: InboundContext, bericht: StopBericht
) -> RetourDecision:
    """Judge and store every StopProduct of a 307; the decision feeds the 308."""
    decision = RetourDecision.ok()
    for product in bericht.producten:
        if product.status_aanlevering not in (EERSTE, GEWIJZIGD, VERWIJDEREN):
            return RetourDecision.in_message_error()
        # In-message rule: a delivery cannot end before it began.
        if product.einddatum < product.begindatum:
            return RetourDecision.in_message_error()
    bsn_hash = keyed_hash(bericht.client.bsn, runtime.settings.hash_key)
    for index, product in enumerate(bericht.producten, start=1):
        path = STOP_PATH.format(index)
        toewijzing = _linked_toewijzing(session, ctx, bsn_hash, product)
        if toewijzing is None:
            decision.reject(path, TR019)
            continue
        key = _Key(ctx.law.value, bsn_hash, toewijzing.id, product.begindatum)
        code, target = _stop_violation(session, key, product)
        if code is not None:
            decision.reject(path, code)
            continue
        _store_stop(session, runtime, ctx, key, product, index, target)
        decision.events.append(_stop_event(ctx, key, product))
        if product.status_aanlevering == EERSTE:
            _check_timeliness(
                runtime, decision, ctx, ZorgleveringSoort.STOP, key.toewijzingnummer, product.einddatum
            )
    return decision


# --- TR019: linking a product to a toewijzing ------------------------------------------


def _linked_toewijzing(
    session: Session, ctx: InboundContext, bsn_hash: str, product: StartProduct | StopProduct
) -> Toewijzing | None:
    """The toewijzing the product belongs to, locked for this transaction; None: TR019.

    The lock (PostgreSQL; SQLite serialises writers anyway) makes two messages about the
    same toewijzing take turns, so both cannot pass TR074/TR326 on the same old state.
    """
    if product.toewijzingnummer is None:
        return None
    row = session.execute(
        select(Toewijzing).where(Toewijzing.id == product.toewijzingnummer).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.law != ctx.law.value or row.bsn_hash != bsn_hash:
        return None
    if row.aanbieder_agb != ctx.aanbieder or row.reden_wijziging == TOEWIJZING_VERWIJDERD:
        return None
    if product.product is not None and not _same_product(product.product, row):
        return None
    if product.toewijzing_ingangsdatum is not None and product.toewijzing_ingangsdatum != row.ingangsdatum:
        return None
    if product.begindatum < row.ingangsdatum:
        return None
    if row.einddatum is not None and product.begindatum > row.einddatum:
        return None
    return row


def _same_product(product: Product, row: Toewijzing) -> bool:
    if product.categorie != row.categorie:
        return False
    return product.code is None or product.code == row.productcode


# --- rules against earlier reports -----------------------------------------------------


def _start_violation(session: Session, key: _Key, status: str) -> str | None:
    current = _current_starts(session, key)
    if status == EERSTE:
        if any(s.begindatum == key.begindatum for s in current):
            return TR074
        for other in current:
            if not _current_stops(session, _replace_begindatum(key, other.begindatum)):
                return TR326
        return None
    if not any(s.begindatum == key.begindatum for s in current):
        return TR063
    if status == VERWIJDEREN and _current_stops(session, key):
        return TR071
    return None


def _stop_violation(
    session: Session, key: _Key, product: StopProduct
) -> tuple[str | None, ZorgleveringMelding | None]:
    """The violated rule's code, or None and the stop this product corrects/removes."""
    stops = _current_stops(session, key)
    status = product.status_aanlevering
    if status == VERWIJDEREN:
        if not stops:
            return TR063, None
        same = [
            s
            for s in stops
            if s.einddatum == product.einddatum and s.reden_beeindiging == product.reden_beeindiging
        ]
        return None, (same or stops)[-1]
    if status == GEWIJZIGD:
        if not stops:
            return TR063, None
        target: ZorgleveringMelding | None = stops[-1]
        others = stops[:-1]
    else:
        if not any(s.begindatum == key.begindatum for s in _current_starts(session, key)):
            return TR069, None
        target, others = None, stops
    if any(s.reden_beeindiging != TIJDELIJK for s in others):
        return TR415, None
    if product.reden_beeindiging == TIJDELIJK and any(s.reden_beeindiging == TIJDELIJK for s in others):
        return TR413, None
    if others and others[-1].einddatum is not None and product.einddatum < others[-1].einddatum:
        return TR414, None
    return None, target


def _current_starts(session: Session, key: _Key) -> list[ZorgleveringMelding]:
    """All current starts on the key's toewijzing (any Begindatum), oldest first."""
    return list(
        session.scalars(
            select(ZorgleveringMelding)
            .where(
                ZorgleveringMelding.soort == ZorgleveringSoort.START,
                ZorgleveringMelding.law == key.law,
                ZorgleveringMelding.bsn_hash == key.bsn_hash,
                ZorgleveringMelding.toewijzingnummer == key.toewijzingnummer,
                ZorgleveringMelding.actueel.is_(True),
            )
            .order_by(ZorgleveringMelding.id)
        )
    )


def _current_stops(session: Session, key: _Key) -> list[ZorgleveringMelding]:
    """The current stops with exactly this key, oldest first."""
    return list(
        session.scalars(
            select(ZorgleveringMelding)
            .where(
                ZorgleveringMelding.soort == ZorgleveringSoort.STOP,
                ZorgleveringMelding.law == key.law,
                ZorgleveringMelding.bsn_hash == key.bsn_hash,
                ZorgleveringMelding.toewijzingnummer == key.toewijzingnummer,
                ZorgleveringMelding.begindatum == key.begindatum,
                ZorgleveringMelding.actueel.is_(True),
            )
            .order_by(ZorgleveringMelding.id)
        )
    )


def _replace_begindatum(key: _Key, begindatum: date) -> _Key:
    return _Key(key.law, key.bsn_hash, key.toewijzingnummer, begindatum)


# --- storing accepted products ---------------------------------------------------------


def _store_start(
    session: Session, runtime: Runtime, ctx: InboundContext, key: _Key, product: StartProduct, index: int
) -> None:
    target = None
    if product.status_aanlevering != EERSTE:
        target = next(s for s in _current_starts(session, key) if s.begindatum == key.begindatum)
    row = _new_row(runtime, ctx, key, ZorgleveringSoort.START, product.status_aanlevering, index)
    _add_replacing(session, row, target)


def _store_stop(
    session: Session,
    runtime: Runtime,
    ctx: InboundContext,
    key: _Key,
    product: StopProduct,
    index: int,
    target: ZorgleveringMelding | None,
) -> None:
    row = _new_row(runtime, ctx, key, ZorgleveringSoort.STOP, product.status_aanlevering, index)
    row.einddatum = product.einddatum
    row.reden_beeindiging = product.reden_beeindiging
    _add_replacing(session, row, target)


def _new_row(
    runtime: Runtime, ctx: InboundContext, key: _Key, soort: str, status: str, index: int
) -> ZorgleveringMelding:
    return ZorgleveringMelding(
        soort=soort,
        law=key.law,
        bsn_hash=key.bsn_hash,
        toewijzingnummer=key.toewijzingnummer,
        begindatum=key.begindatum,
        status_aanlevering=status,
        aanbieder_agb=ctx.aanbieder,
        inbound_id=ctx.inbound_id,
        bericht_identificatie=ctx.bericht_identificatie,
        positie=index,
        actueel=status != VERWIJDEREN,
        verwijderd=False,
        received_at=ctx.received_at,
    )


def _add_replacing(session: Session, row: ZorgleveringMelding, target: ZorgleveringMelding | None) -> None:
    """Add ``row``; a correction or removal takes ``target`` out of the current state.

    Flushed at once so that the next product of the same message is judged against it.
    """
    session.add(row)
    session.flush()
    if target is not None:
        target.actueel = False
        target.vervangen_door_id = row.id
        target.verwijderd = row.status_aanlevering == VERWIJDEREN
        session.flush()


# --- events ----------------------------------------------------------------------------


def _start_event(ctx: InboundContext, key: _Key, status: str) -> tuple[str, dict[str, Any]]:
    type_ = START_VERWIJDERD if status == VERWIJDEREN else ZORG_GESTART
    return type_, {
        "wet": ctx.law.value,
        "toewijzingnummer": key.toewijzingnummer,
        "begindatum": key.begindatum.isoformat(),
        "status_aanlevering": status,
        "aanbieder": ctx.aanbieder,
    }


def _stop_event(ctx: InboundContext, key: _Key, product: StopProduct) -> tuple[str, dict[str, Any]]:
    type_ = STOP_VERWIJDERD if product.status_aanlevering == VERWIJDEREN else ZORG_GESTOPT
    return type_, {
        "wet": ctx.law.value,
        "toewijzingnummer": key.toewijzingnummer,
        "begindatum": key.begindatum.isoformat(),
        "einddatum": product.einddatum.isoformat(),
        "reden": product.reden_beeindiging,
        "tijdelijk": product.reden_beeindiging == TIJDELIJK,
        "status_aanlevering": product.status_aanlevering,
        "aanbieder": ctx.aanbieder,
    }


def _check_timeliness(
    runtime: Runtime,
    decision: RetourDecision,
    ctx: InboundContext,
    soort: str,
    toewijzingnummer: int,
    datum: date,
) -> None:
    werkdagen = werkdagen_late(runtime, datum, ctx.today)
    if werkdagen > MELDTERMIJN_WERKDAGEN:
        decision.events.append(
            (
                MELDING_TE_LAAT,
                {
                    "soort": soort,
                    "wet": ctx.law.value,
                    "toewijzingnummer": toewijzingnummer,
                    "datum": datum.isoformat(),
                    "ontvangen": ctx.today.isoformat(),
                    "werkdagen": werkdagen,
                    "termijn_werkdagen": MELDTERMIJN_WERKDAGEN,
                    "aanbieder": ctx.aanbieder,
                },
            )
        )


@lru_cache(maxsize=8)
def _kalender(extra_free_days: tuple[date, ...], excluded_holidays: tuple[str, ...]) -> WerkdagKalender:
    """One calendar per configured policy, so the holiday lists are computed once."""
    return WerkdagKalender(extra_free_days=extra_free_days, excluded_holidays=excluded_holidays)


def werkdagen_late(runtime: Runtime, event: date, today: date) -> int:
    """Werkdagen from the event to the report (event day not counted; 0 when in advance)."""
    settings = runtime.settings
    kalender = _kalender(
        tuple(settings.werkdagen_extra_free_days), tuple(settings.werkdagen_excluded_holidays)
    )
    return max(0, kalender.werkdagen_between(event, today))
