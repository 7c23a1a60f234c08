"""Which heenberichten the gemeente receives, keyed by the envelope's ``functie``, and how
each is read, judged and answered.

The iJw/iWmo messages serve both laws through one parser and rule set each; the SVB and
CAK routes add their own (see :mod:`gateway.pgb`, :mod:`gateway.eigen_bijdrage`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from connectors.istandaard import (
    Law,
    parse_declaratie,
    parse_start,
    parse_stop,
    parse_vot,
    parse_vow,
    render_declaratie_antwoord,
)
from connectors.istandaard.declaratie import rejects
from connectors.istandaard.model_inbound import Declaratie
from gateway import eigen_bijdrage, pgb
from gateway.bsn import keyed_hash
from gateway.deadlines import DeadlineKind, meet_deadline, open_deadline
from gateway.declaraties import handle_declaratie
from gateway.inbound.context import CustomAnswer, InboundContext, RetourDecision
from gateway.inbound.ggk_heenberichten import InboundHandler
from gateway.runtime import Runtime
from gateway.verzoeken import handle_vot, handle_vow
from gateway.zorglevering import handle_start, handle_stop

Decide = Callable[[Session, Runtime, InboundContext, Any], RetourDecision | CustomAnswer]


def _declaratie(session: Session, runtime: Runtime, ctx: InboundContext, bericht: Declaratie) -> CustomAnswer:
    """323 -> 325, answered at once (the standard allows 10 werkdagen; the deadline is kept)."""
    outcome = handle_declaratie(session, runtime, ctx, bericht)
    antwoord = outcome.antwoord
    open_deadline(
        session, runtime, DeadlineKind.DECLARATIE_ANTWOORD, inbound_id=ctx.inbound_id, start=ctx.received_at
    )
    meet_deadline(session, runtime, DeadlineKind.DECLARATIE_ANTWOORD, inbound_id=ctx.inbound_id)
    codes = [*antwoord.header_codes, *antwoord.declaratie_codes]
    for prestatie_codes in antwoord.prestatie_codes.values():
        codes.extend(c for c in prestatie_codes if c not in codes)

    def render(identificatie: str, dagtekening: date) -> bytes:
        header = replace(antwoord.header, identificatie=identificatie, dagtekening=dagtekening)
        return render_declaratie_antwoord(replace(antwoord, header=header), bericht)

    return CustomAnswer(render=render, codes=codes, refused=rejects(codes), events=list(outcome.events))


def _start(session: Session, runtime: Runtime, ctx: InboundContext, bericht: Any) -> RetourDecision:
    decision = handle_start(session, runtime, ctx, bericht)
    _provisions_changed(session, runtime, ctx, bericht.client.bsn, "start")
    return decision


def _stop(session: Session, runtime: Runtime, ctx: InboundContext, bericht: Any) -> RetourDecision:
    decision = handle_stop(session, runtime, ctx, bericht)
    _provisions_changed(session, runtime, ctx, bericht.client.bsn, "stop")
    return decision


def _provisions_changed(
    session: Session, runtime: Runtime, ctx: InboundContext, bsn: str, trigger: str
) -> None:
    """A start or stop of care may start or end the client's eigen bijdrage (CAK)."""
    bsn_hash = keyed_hash(bsn, runtime.settings.hash_key)
    eigen_bijdrage.after_provisions_changed(
        session, runtime, bsn_hash=bsn_hash, law=ctx.law.value, trigger=trigger
    )


def _istandaard() -> dict[str, InboundHandler]:
    table: dict[int, tuple[Callable[[bytes], Any], Decide, int]] = {
        305: (parse_start, _start, 306),
        307: (parse_stop, _stop, 308),
        315: (parse_vot, handle_vot, 316),
        317: (parse_vow, handle_vow, 318),
        323: (parse_declaratie, _declaratie, 325),
    }
    return {
        law.function_name(number): InboundHandler(parse, decide, law.function_name(answer), law)
        for law in Law
        for number, (parse, decide, answer) in table.items()
    }


HANDLERS: dict[str, InboundHandler] = {
    **_istandaard(),
    **pgb.INBOUND_HANDLERS,
    **eigen_bijdrage.INBOUND_HANDLERS,
}
