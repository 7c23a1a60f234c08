"""Eigen bijdrage: what the CAK must know (iEb-style WMO405/407 out, 406/408 in).

Extension points the rest of the gateway calls; they do nothing until the CAK route is
built (issue: eigen bijdrage to the CAK).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from gateway.runtime import Runtime

if TYPE_CHECKING:
    from gateway.inbound.ggk_heenberichten import InboundHandler
    from gateway.store.tables import Message

#: Envelope functie -> reader of a retour the CAK sends us: (all codes, codes per toewijzingnummer).
RETOUR_READERS: dict[str, Callable[[bytes], tuple[list[str], dict[int, tuple[str, ...]]]]] = {}
#: Envelope functie -> handler of a heenbericht the CAK sends us (none in iEb so far).
INBOUND_HANDLERS: dict[str, InboundHandler] = {}


def after_provisions_changed(
    session: Session, runtime: Runtime, *, bsn_hash: str, law: str, trigger: str
) -> list[Message]:
    """The client's provisions changed (``trigger``: beschikking, wijziging, start, stop):
    queue a WMO405/407 start or stop when the CAK's picture of the person changes."""
    return []
