"""Which aanbieder messages the gemeente receives, how each is read and judged.

One entry per message number; the law follows from the payload's namespace, and every
parser and rule set serves both laws.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connectors.istandaard import (
    parse_declaratie,
    parse_start,
    parse_stop,
    parse_vot,
    parse_vow,
    render_declaratie_antwoord,
)
from gateway.declaraties import handle_declaratie
from gateway.inbound.context import InboundContext
from gateway.inbound.ggk_heenberichten import InboundHandler
from gateway.runtime import Runtime
from gateway.verzoeken import handle_vot, handle_vow
from gateway.zorglevering import handle_start, handle_stop


def _declaratie(session: Session, runtime: Runtime, ctx: InboundContext, bericht: Any) -> Any:
    outcome = handle_declaratie(session, runtime, ctx, bericht)
    return outcome.antwoord, outcome.events


HANDLERS: dict[int, InboundHandler] = {
    305: InboundHandler(parse_start, handle_start),
    307: InboundHandler(parse_stop, handle_stop),
    315: InboundHandler(parse_vot, handle_vot),
    317: InboundHandler(parse_vow, handle_vow),
    323: InboundHandler(parse_declaratie, _declaratie, answer=render_declaratie_antwoord),
}
