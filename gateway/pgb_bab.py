"""The SVB's budgetafsluiting (BAB): judged, stored per client, announced, answered.

Each Budgetafsluiting must name a PGB toewijzing of this client under this law (else
P001), lie within its period (P002) and add up (P003). Accepted ones are stored in
``pgb_budgetafsluitingen`` and announced with event ``bab.ontvangen`` (no BSN); the
answer is the BAB retour (``WMO465``/``JW467``): header only when all were accepted,
otherwise the failing Budgetafsluiting carries its codes and the others 0200.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from connectors.svb import Budgetafsluitbericht, Kind, functies, parse_bab, render_bab_retour
from gateway.bsn import keyed_hash
from gateway.inbound.context import CustomAnswer, InboundContext
from gateway.pgb_policy import DELETED, PGB
from gateway.runtime import Runtime
from gateway.store.svb_tables import PgbBudgetafsluiting
from gateway.store.tables import Toewijzing

if TYPE_CHECKING:
    from gateway.inbound.ggk_heenberichten import InboundHandler

BAB_ONTVANGEN = "bab.ontvangen"
UNKNOWN_BUDGET = "P001"
OUTSIDE_PERIOD = "P002"
DOES_NOT_ADD_UP = "P003"


def bab_handlers() -> dict[str, InboundHandler]:
    """Envelope functie (``WMO464``, ``JW466``) -> how the gateway takes a BAB."""
    from gateway.inbound.ggk_heenberichten import InboundHandler

    return {
        functie: InboundHandler(
            parse_bab, decide_bab, Kind.BAB_RETOUR.functie(law), law, render_refusal=render_bab_refusal
        )
        for functie, law in functies(Kind.BAB).items()
    }


def decide_bab(
    session: Session, runtime: Runtime, ctx: InboundContext, bericht: Budgetafsluitbericht
) -> CustomAnswer:
    bsn_hash = keyed_hash(bericht.bsn, runtime.settings.hash_key)
    codes: dict[int, list[str]] = {}
    events: list[tuple[str, dict[str, Any]]] = []
    now = runtime.clock.now()
    for a in bericht.afsluitingen:
        row = session.get(Toewijzing, a.toewijzingnummer)
        if row is None or row.bsn_hash != bsn_hash or row.law != ctx.law.value or row.leveringsvorm != PGB:
            codes[a.toewijzingnummer] = [UNKNOWN_BUDGET]
            continue
        found: list[str] = []
        ends = row.einddatum if row.reden_wijziging != DELETED else None
        if a.begindatum < row.ingangsdatum or (ends is not None and a.einddatum > ends):
            found.append(OUTSIDE_PERIOD)
        if not a.sluit:
            found.append(DOES_NOT_ADD_UP)
        if found:
            codes[a.toewijzingnummer] = found
            continue
        session.add(
            PgbBudgetafsluiting(
                inbound_id=ctx.inbound_id,
                law=row.law,
                bsn_hash=bsn_hash,
                toewijzing_id=row.id,
                beschikking_id=row.beschikking_id,
                categorie=a.categorie,
                productcode=a.code,
                begindatum=a.begindatum,
                einddatum=a.einddatum,
                toegekend=a.toegekend,
                besteed=a.besteed,
                resterend=a.resterend,
                afsluitdatum=a.afsluitdatum,
                received_at=now,
            )
        )
        events.append(
            (
                BAB_ONTVANGEN,
                {
                    "beschikking_id": row.beschikking_id,
                    "toewijzingnummer": row.id,
                    "wet": row.law,
                    "begindatum": a.begindatum.isoformat(),
                    "einddatum": a.einddatum.isoformat(),
                    "toegekend": a.toegekend,
                    "besteed": a.besteed,
                    "resterend": a.resterend,
                },
            )
        )
    all_codes: list[str] = []
    for found_codes in codes.values():
        all_codes.extend(c for c in found_codes if c not in all_codes)

    def render(identificatie: str, dagtekening: date) -> bytes:
        return render_bab_retour(
            bericht,
            identificatie_retour=identificatie,
            dagtekening_retour=dagtekening,
            afsluiting_codes=codes,
        )

    return CustomAnswer(render=render, codes=all_codes, refused=bool(codes), events=events)


def render_bab_refusal(
    payload: bytes, identificatie: str, dagtekening: date, header_codes: list[str]
) -> bytes:
    """The BAB retour refusing a whole BAB in its header (TR056 duplicate, wrong parties).

    For the dispatcher's header-level refusals, which otherwise render an iJw/iWmo retour
    that cannot express a BAB; to be passed as the handler's refusal renderer once
    :class:`~gateway.inbound.ggk_heenberichten.InboundHandler` takes one.
    """
    return render_bab_retour(
        parse_bab(payload),
        identificatie_retour=identificatie,
        dagtekening_retour=dagtekening,
        header_codes=header_codes,
    )
