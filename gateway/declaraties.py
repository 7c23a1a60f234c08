"""The gemeente's judgement of a 323 Declaratie, answered by a 325 Declaratie-antwoord.

One implementation for iJw and iWmo. Every prestatie is checked against the toewijzing
it names and against what this aanbieder declared before (stored by
:mod:`gateway.store.declaratie_tables`); each failed rule puts its retourcode
(TRnnn -> 9nnn) on the prestatie. The rules, in the order applied:

====  ==========================================================================
8021  ReferentieNummer used before by this aanbieder (any earlier prestatie, granted
      or not, "reeds aangeleverd"), or twice in this 323 (then every occurrence: the
      325 carries codes per ReferentieNummer, so the two cannot be told apart).
9319  ProductPeriode not inside the DeclaratiePeriode.
--    credit prestaties (DebetCredit C) only get the credit rules below and 9319;
      they undo an approved debet, so the toewijzing rules were applied to that debet.
8017  credit without an approved debet it reverses: the debet is the prestatie whose
      ReferentieNummer is the credit's VorigReferentieNummer (or, when that is empty,
      the credit's own ReferentieNummer), and the credit must mirror it (toewijzing,
      client, product, period, volume and amount).
9390  that debet was already credited by an approved credit.
9389  a debet with a VorigReferentieNummer that names an approved debet which has not
      been credited (a correction needs the credit of what it corrects). An unknown
      VorigReferentieNummer is accepted: it only relates.
9338  no toewijzing with this ToewijzingNummer for this aanbieder, client (BSN hash)
      and law; the toewijzing rules below are then skipped.
9384  the toewijzing was deleted (RedenWijziging 13).
9339  ProductCategorie differs from the toewijzing's (not checked when it has none).
9340  ProductCode differs from the toewijzing's (not checked when it has none).
9341  Eenheid does not fit the toewijzing's, by :data:`EENHEID_PAST`: the same eenheid,
      and minutes (01) against an hourly toewijzing (04, IV081). A toewijzing without
      an eenheid (budget or generiek) takes any eenheid.
9387  ProductPeriode starts after the 1st of its month while the toewijzing did not
      start later in that month; 9388 the same for the end and the last day.
9307  ProductPeriode's begin outside the toewijzing's ingangsdatum..einddatum;
9308  the same for its end (an open einddatum is no limit).
9346  eenheid not 83 (euro) and ProductTarief given, but IngediendBedrag is not
      GeleverdVolume x ProductTarief. Minutes against an hourly toewijzing have an hourly
      tarief (IV081): volume x tarief / 60, rounded half-up to a whole eurocent. When the
      toewijzing has no eenheid, minutes pass with either reading.
9321  the prestatie's volume exceeds the omvang allowed for its own period;
9322  the volumes granted so far plus this one exceed the omvang allowed for the period
      they cover (both skipped after 9341, and 9322 after 9321: it would say the same).
9369  budget toewijzing: the amounts granted so far plus this one exceed the budget.
====  ==========================================================================

Omvang arithmetic (9321/9322). Volumes are compared in a common unit: minutes for an
hourly toewijzing (an 04 volume counts 60 minutes, an 01 volume one), the eenheid
itself otherwise. The allowed volume for a date range is the toegewezen Volume times
the number of frequentie units the range touches within the toewijzing's validity:
days (1), calendar weeks Monday-Sunday (2), calendar months (4), or once (6 totaal). A
week or month cut by the period or the toewijzing still counts whole: the standard
does not pro-rate, and the sum rule 9322 catches a week declared twice. 9322 sums the
new prestatie and the granted (signed, so credits net out) prestaties on the same
toewijzing that overlap its frequentie window (the prestatie's days, whole weeks,
whole months, or the whole toewijzing for 6), and compares with the allowed volume of
the range from the earliest begin to the latest end among them.

A 9333 (DeclaratieNummer already used by this aanbieder) rejects the declaratie class
as a whole: no prestatie is assessed or stored, nothing is granted.

The answer (read from jw325.xsd and the published example, rendered by
:func:`connectors.istandaard.declaratie.render_declaratie_antwoord`): fully granted ->
``header_codes ("8001",)``, ``declaratie_codes ("0200",)``, no prestatie codes (the
325 then carries only the totals); anything rejected -> header ``0200``, declaratie
``0200`` (or ``9333``), and ``prestatie_codes`` for every ReferentieNummer: its
rejection codes, or ``0200`` when granted. TotaalToegekendBedrag is the signed sum of
the granted prestaties. The 325's own header identification is a placeholder (the
323's): the dispatcher sets the real one when it renders.

:func:`handle_declaratie` returns a :class:`DeclaratieUitkomst` - a named tuple
``(antwoord, events)`` the dispatcher unpacks - because a DeclaratieAntwoord has no room
for the back-office events. Events never carry a BSN.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any, NamedTuple

import structlog
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import BedragMetDC, Declaratie, DeclaratieAntwoord, Prestatie
from gateway.bsn import keyed_hash
from gateway.inbound.context import OK, InboundContext
from gateway.runtime import Runtime
from gateway.store.declaratie_tables import AFGEWEZEN, TOEGEKEND, DeclaratieRow, PrestatieRow
from gateway.store.tables import Toewijzing

log = structlog.get_logger("gateway.declaraties")

EVENT_ONTVANGEN = "declaratie.ontvangen"
#: "Declaratie is volledig toegewezen".
FULLY_GRANTED = "8001"
DELETED = "13"
MINUUT, UUR, EURO = "01", "04", "83"

#: Toewijzing eenheid -> the eenheden a prestatie may use for it (9341).
EENHEID_PAST: dict[str, frozenset[str]] = {
    MINUUT: frozenset({MINUUT}),
    UUR: frozenset({UUR, MINUUT}),
    "14": frozenset({"14"}),
    "16": frozenset({"16"}),
    "82": frozenset({"82"}),
    EURO: frozenset({EURO}),
    "84": frozenset({"84"}),
}

Events = list[tuple[str, dict[str, Any]]]


class DeclaratieUitkomst(NamedTuple):
    antwoord: DeclaratieAntwoord
    events: Events


def handle_declaratie(
    session: Session, runtime: Runtime, ctx: InboundContext, bericht: Declaratie
) -> DeclaratieUitkomst:
    """Judge ``bericht``, store it with its verdicts (no commit), and say what to answer."""
    if _declaratienummer_used(session, ctx, bericht.declaratienummer):
        antwoord = _antwoord(ctx, bericht, 0, ("0200",), ("9333",), {})
        log.info("declaratie_refused", inbound_id=ctx.inbound_id, code="9333")
        return DeclaratieUitkomst(antwoord, [_event(ctx, bericht, antwoord, 0, [])])
    declaratie = DeclaratieRow(
        law=ctx.law.value,
        gemeentecode=ctx.gemeentecode,
        aanbieder_agb=ctx.aanbieder,
        declaratienummer=bericht.declaratienummer,
        periode_begin=bericht.periode_begin,
        periode_eind=bericht.periode_eind,
        totaal_ingediend=bericht.totaal_ingediend.signed,
        totaal_toegekend=0,
        inbound_id=ctx.inbound_id,
        bericht_identificatie=ctx.bericht_identificatie,
        received_at=ctx.received_at,
    )
    session.add(declaratie)
    session.flush()
    counts = Counter(p.referentienummer for c in bericht.clienten for p in c.prestaties)
    codes_by_ref: dict[str, list[str]] = {}
    toegekend = rejected = 0
    for client in bericht.clienten:
        bsn_hash = keyed_hash(client.bsn, runtime.settings.hash_key)
        for prestatie in client.prestaties:
            judge = _Judge(session, ctx, declaratie, bsn_hash, prestatie)
            codes = judge.codes(twice_in_message=counts[prestatie.referentienummer] > 1)
            session.add(_row(ctx, declaratie, bsn_hash, prestatie, codes))
            session.flush()  # later prestaties of this 323 count this one (8021, 9322, 9369)
            if codes:
                rejected += 1
            else:
                toegekend += prestatie.ingediend_bedrag.signed
            merged = codes_by_ref.setdefault(prestatie.referentienummer, [])
            merged.extend(c for c in codes if c not in merged)
    declaratie.totaal_toegekend = toegekend
    if rejected:
        prestatie_codes = {ref: tuple(codes) or (OK,) for ref, codes in codes_by_ref.items()}
        antwoord = _antwoord(ctx, bericht, toegekend, (OK,), (OK,), prestatie_codes)
    else:
        antwoord = _antwoord(ctx, bericht, toegekend, (FULLY_GRANTED,), (OK,), {})
    all_codes = sorted({c for codes in codes_by_ref.values() for c in codes})
    log.info(
        "declaratie_judged",
        inbound_id=ctx.inbound_id,
        prestaties=sum(counts.values()),
        rejected=rejected,
        retour_codes=all_codes,
    )
    return DeclaratieUitkomst(antwoord, [_event(ctx, bericht, antwoord, rejected, all_codes)])


class _Judge:
    """The rules for one prestatie, each a method returning its code or nothing."""

    def __init__(
        self, session: Session, ctx: InboundContext, declaratie: DeclaratieRow, bsn_hash: str, p: Prestatie
    ) -> None:
        self.session, self.ctx, self.declaratie, self.bsn_hash, self.p = session, ctx, declaratie, bsn_hash, p

    def codes(self, *, twice_in_message: bool) -> list[str]:
        p = self.p
        credit = p.ingediend_bedrag.debet_credit == "C"
        codes: list[str] = []
        if twice_in_message or self._referentie_used(credit):
            codes.append("8021")
        d = self.declaratie
        if not (d.periode_begin <= p.periode_begin and p.periode_eind <= d.periode_eind):
            codes.append("9319")
        if credit:
            return codes + self._credit_codes()
        if p.vorig_referentienummer is not None and self._corrects_uncredited_debet(p.vorig_referentienummer):
            codes.append("9389")
        toewijzing = self._toewijzing()
        if toewijzing is None:
            return [*codes, "9338"]
        return codes + self._toewijzing_codes(toewijzing)

    # --- earlier prestaties ---------------------------------------------------------

    def _earlier(self, referentienummer: str) -> list[PrestatieRow]:
        """Stored prestaties of this aanbieder (any 323, this one's earlier ones too) by number."""
        return list(
            self.session.scalars(
                select(PrestatieRow).where(
                    PrestatieRow.aanbieder_agb == self.ctx.aanbieder,
                    PrestatieRow.law == self.ctx.law.value,
                    PrestatieRow.referentienummer == referentienummer,
                )
            )
        )

    def _referentie_used(self, credit: bool) -> bool:
        earlier = [r for r in self._earlier(self.p.referentienummer) if r.declaratie_id != self.declaratie.id]
        if credit and self.p.vorig_referentienummer is None:
            # A credit repeating its debet's number names that debet; only a second credit is a duplicate.
            earlier = [r for r in earlier if r.debet_credit == "C"]
        return bool(earlier)

    def _credits_of(self, referentienummer: str) -> list[PrestatieRow]:
        """Approved credits that reverse the prestatie ``referentienummer``."""
        return list(
            self.session.scalars(
                select(PrestatieRow).where(
                    PrestatieRow.aanbieder_agb == self.ctx.aanbieder,
                    PrestatieRow.law == self.ctx.law.value,
                    PrestatieRow.debet_credit == "C",
                    PrestatieRow.status == TOEGEKEND,
                    or_(
                        PrestatieRow.vorig_referentienummer == referentienummer,
                        and_(
                            PrestatieRow.vorig_referentienummer.is_(None),
                            PrestatieRow.referentienummer == referentienummer,
                        ),
                    ),
                )
            )
        )

    def _credit_codes(self) -> list[str]:
        p = self.p
        target = p.vorig_referentienummer or p.referentienummer
        debets = [r for r in self._earlier(target) if r.debet_credit == "D" and r.status == TOEGEKEND]
        debet = next((r for r in debets if self._mirrors(r)), None)
        if debet is None:
            return ["8017"]
        return ["9390"] if self._credits_of(target) else []

    def _mirrors(self, debet: PrestatieRow) -> bool:
        p = self.p
        return (
            debet.toewijzingnummer == p.toewijzingnummer
            and debet.bsn_hash == self.bsn_hash
            and (debet.categorie, debet.productcode) == (p.categorie, p.productcode)
            and (debet.periode_begin, debet.periode_eind) == (p.periode_begin, p.periode_eind)
            and (debet.volume, debet.eenheid) == (p.geleverd_volume, p.eenheid)
            and debet.bedrag == p.ingediend_bedrag.bedrag
        )

    def _corrects_uncredited_debet(self, vorig: str) -> bool:
        approved = [r for r in self._earlier(vorig) if r.status == TOEGEKEND]
        if not approved or any(r.debet_credit == "C" for r in approved):
            return False
        return not self._credits_of(vorig)

    # --- the toewijzing ---------------------------------------------------------------

    def _toewijzing(self) -> Toewijzing | None:
        row = self.session.get(Toewijzing, self.p.toewijzingnummer)
        if row is None or (row.law, row.aanbieder_agb, row.bsn_hash) != (
            self.ctx.law.value,
            self.ctx.aanbieder,
            self.bsn_hash,
        ):
            return None
        return row

    def _toewijzing_codes(self, t: Toewijzing) -> list[str]:
        p = self.p
        codes: list[str] = []
        if t.reden_wijziging == DELETED:
            codes.append("9384")
        if t.categorie is not None and p.categorie != t.categorie:
            codes.append("9339")
        if t.productcode is not None and p.productcode != t.productcode:
            codes.append("9340")
        eenheid_fits = t.eenheid is None or p.eenheid in EENHEID_PAST.get(t.eenheid, frozenset({t.eenheid}))
        if not eenheid_fits:
            codes.append("9341")
        codes += _month_boundary_codes(p, t)
        if not _within(p.periode_begin, t):
            codes.append("9307")
        if not _within(p.periode_eind, t):
            codes.append("9308")
        if not _bedrag_fits(p, t.eenheid):
            codes.append("9346")
        dates_fit = not {"9307", "9308"} & set(codes)
        if eenheid_fits and dates_fit and t.volume is not None and t.eenheid and t.frequentie:
            codes += self._omvang_codes(t, t.volume, t.eenheid, t.frequentie)
        if t.budget is not None and self._granted_amount(t) + p.ingediend_bedrag.signed > t.budget:
            codes.append("9369")
        return codes

    def _granted_debets(self, t: Toewijzing) -> list[PrestatieRow]:
        """The granted debets on ``t`` that no granted credit reversed."""
        granted = list(
            self.session.scalars(
                select(PrestatieRow).where(
                    PrestatieRow.toewijzingnummer == t.id,
                    PrestatieRow.law == self.ctx.law.value,
                    PrestatieRow.aanbieder_agb == self.ctx.aanbieder,
                    PrestatieRow.status == TOEGEKEND,
                )
            )
        )
        reversed_ = {r.vorig_referentienummer or r.referentienummer for r in granted if r.debet_credit == "C"}
        return [r for r in granted if r.debet_credit == "D" and r.referentienummer not in reversed_]

    def _granted_amount(self, t: Toewijzing) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(PrestatieRow.bedrag), 0)).where(
                PrestatieRow.toewijzingnummer == t.id,
                PrestatieRow.law == self.ctx.law.value,
                PrestatieRow.aanbieder_agb == self.ctx.aanbieder,
                PrestatieRow.status == TOEGEKEND,
            )
        )
        return int(total or 0)

    def _omvang_codes(self, t: Toewijzing, volume: int, eenheid: str, frequentie: str) -> list[str]:
        p = self.p
        own = p.geleverd_volume * _factor(p.eenheid, eenheid)
        per_unit = volume * _factor(eenheid, eenheid)
        if own > per_unit * _units(p.periode_begin, p.periode_eind, t, frequentie):
            return ["9321"]
        window_begin, window_end = _window(p.periode_begin, p.periode_eind, frequentie)
        overlapping = [
            r
            for r in self._granted_debets(t)
            if frequentie == "6" or (r.periode_begin <= window_end and window_begin <= r.periode_eind)
        ]
        total = own + sum(r.volume * _factor(r.eenheid, eenheid) for r in overlapping)
        begin = min([p.periode_begin, *(r.periode_begin for r in overlapping)])
        end = max([p.periode_eind, *(r.periode_eind for r in overlapping)])
        return ["9322"] if total > per_unit * _units(begin, end, t, frequentie) else []


# --- arithmetic -------------------------------------------------------------------------


def _factor(eenheid: str, toewijzing_eenheid: str) -> int:
    """How many common units one ``eenheid`` is worth: minutes for an hourly toewijzing."""
    if toewijzing_eenheid == UUR:
        return 60 if eenheid == UUR else 1
    return 1


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def _window(begin: date, end: date, frequentie: str) -> tuple[date, date]:
    """``begin..end`` widened to whole frequentie units (days, weeks, months)."""
    if frequentie == "2":
        return _monday(begin), _monday(end) + timedelta(days=6)
    if frequentie == "4":
        return begin.replace(day=1), _month_end(end)
    return begin, end


def _units(begin: date, end: date, t: Toewijzing, frequentie: str) -> int:
    """Frequentie units (days, weeks, months; 1 for totaal) touched by begin..end within the toewijzing."""
    begin = max(begin, t.ingangsdatum)
    if t.einddatum is not None:
        end = min(end, t.einddatum)
    if end < begin:
        return 0
    if frequentie == "1":
        return (end - begin).days + 1
    if frequentie == "2":
        return (_monday(end) - _monday(begin)).days // 7 + 1
    if frequentie == "4":
        return (end.year * 12 + end.month) - (begin.year * 12 + begin.month) + 1
    return 1


def _within(day: date, t: Toewijzing) -> bool:
    return t.ingangsdatum <= day and (t.einddatum is None or day <= t.einddatum)


def _month_boundary_codes(p: Prestatie, t: Toewijzing) -> list[str]:
    codes: list[str] = []
    first = p.periode_begin.replace(day=1)
    starts_later = first < t.ingangsdatum <= _month_end(first)
    if p.periode_begin != first and not starts_later:
        codes.append("9387")
    last = _month_end(p.periode_eind)
    ends_earlier = t.einddatum is not None and p.periode_eind.replace(day=1) <= t.einddatum < last
    if p.periode_eind != last and not ends_earlier:
        codes.append("9388")
    return codes


def _bedrag_fits(p: Prestatie, toewijzing_eenheid: str | None) -> bool:
    """TR346; integer arithmetic, so no float rounding: (v x t + 30) // 60 is half-up."""
    if p.eenheid == EURO or p.product_tarief is None:
        return True
    exact = p.geleverd_volume * p.product_tarief
    per_hour = (p.geleverd_volume * p.product_tarief + 30) // 60
    bedrag = p.ingediend_bedrag.bedrag
    if p.eenheid == MINUUT and toewijzing_eenheid == UUR:
        return bedrag == per_hour
    if p.eenheid == MINUUT and toewijzing_eenheid is None:
        return bedrag in (exact, per_hour)
    return bedrag == exact


# --- storage and answer -----------------------------------------------------------------


def _declaratienummer_used(session: Session, ctx: InboundContext, nummer: str) -> bool:
    found = session.scalar(
        select(DeclaratieRow.id).where(
            DeclaratieRow.law == ctx.law.value,
            DeclaratieRow.aanbieder_agb == ctx.aanbieder,
            DeclaratieRow.declaratienummer == nummer,
        )
    )
    return found is not None


def _row(
    ctx: InboundContext, declaratie: DeclaratieRow, bsn_hash: str, p: Prestatie, codes: list[str]
) -> PrestatieRow:
    sign = -1 if p.ingediend_bedrag.debet_credit == "C" else 1
    return PrestatieRow(
        declaratie_id=declaratie.id,
        law=ctx.law.value,
        aanbieder_agb=ctx.aanbieder,
        referentienummer=p.referentienummer,
        vorig_referentienummer=p.vorig_referentienummer,
        toewijzingnummer=p.toewijzingnummer,
        bsn_hash=bsn_hash,
        categorie=p.categorie,
        productcode=p.productcode,
        periode_begin=p.periode_begin,
        periode_eind=p.periode_eind,
        volume=sign * p.geleverd_volume,
        eenheid=p.eenheid,
        tarief=p.product_tarief,
        bedrag=p.ingediend_bedrag.signed,
        debet_credit=p.ingediend_bedrag.debet_credit,
        status=AFGEWEZEN if codes else TOEGEKEND,
        retour_codes=list(codes),
    )


def _bedrag(signed: int) -> BedragMetDC:
    return BedragMetDC(abs(signed), "C" if signed < 0 else "D")


def _antwoord(
    ctx: InboundContext,
    bericht: Declaratie,
    toegekend: int,
    header_codes: tuple[str, ...],
    declaratie_codes: tuple[str, ...],
    prestatie_codes: dict[str, tuple[str, ...]],
) -> DeclaratieAntwoord:
    header = BerichtHeader(
        law=ctx.law,
        afzender=ctx.gemeentecode,
        ontvanger=ctx.aanbieder,
        identificatie=ctx.bericht_identificatie,  # placeholder: the dispatcher sets the 325's own
        dagtekening=ctx.today,
    )
    return DeclaratieAntwoord(
        header=header,
        declaratie_identificatie=bericht.header.identificatie,
        declaratie_dagtekening=bericht.header.dagtekening,
        declaratienummer=bericht.declaratienummer,
        totaal_ingediend=bericht.totaal_ingediend,
        totaal_toegekend=_bedrag(toegekend),
        header_codes=header_codes,
        declaratie_codes=declaratie_codes,
        prestatie_codes=prestatie_codes,
    )


def _event(
    ctx: InboundContext, bericht: Declaratie, antwoord: DeclaratieAntwoord, rejected: int, codes: list[str]
) -> tuple[str, dict[str, Any]]:
    """The back-office's view: amounts and counts, no BSN (``inbound_id`` is added by the dispatcher)."""
    return (
        EVENT_ONTVANGEN,
        {
            "wet": ctx.law.value,
            "aanbieder": ctx.aanbieder,
            "declaratienummer": bericht.declaratienummer,
            "periode_begin": bericht.periode_begin.isoformat(),
            "periode_eind": bericht.periode_eind.isoformat(),
            "prestaties": sum(len(c.prestaties) for c in bericht.clienten),
            "afgewezen": rejected,
            "totaal_ingediend": bericht.totaal_ingediend.signed,
            "totaal_toegekend": antwoord.totaal_toegekend.signed,
            "volledig_toegekend": antwoord.header_codes == (FULLY_GRANTED,),
            "retour_codes": [*(c for c in antwoord.declaratie_codes if c != OK), *codes],
        },
    )
