"""PGB under trekkingsrecht: the SVB route (iPgb-style TKB out, retours and BAB in).

Extension points the rest of the gateway calls; they do nothing until the SVB route
is built (issue: PGB budgets to the SVB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from gateway.api.beschikking_models import BeschikkingIn, Leveringsvorm
from gateway.api.problems import FieldError
from gateway.runtime import Runtime

if TYPE_CHECKING:
    from gateway.inbound.ggk_heenberichten import InboundHandler
    from gateway.store.tables import Beschikking, Message, Toewijzing

#: Envelope functie -> reader of a retour the SVB sends us: (all codes, codes per toewijzingnummer).
RETOUR_READERS: dict[str, Callable[[bytes], tuple[list[str], dict[int, tuple[str, ...]]]]] = {}
#: Envelope functie -> handler of a heenbericht the SVB sends us (the BAB).
INBOUND_HANDLERS: dict[str, InboundHandler] = {}


def check_pgb(session: Session, runtime: Runtime, request: BeschikkingIn) -> list[FieldError]:
    """The gemeente's PGB policy rules for the request's PGB products."""
    return [
        FieldError(
            f"producten[{i}].leveringsvorm",
            "pgb-route-unavailable",
            "PGB (trekkingsrecht via the SVB) is not routed by this gateway yet",
        )
        for i, product in enumerate(request.producten)
        if product.leveringsvorm is Leveringsvorm.PGB
    ]


def after_beschikking(
    session: Session,
    runtime: Runtime,
    beschikking: Beschikking,
    rows: list[Toewijzing],
    api_client_id: int | None,
) -> list[Message]:
    """Queue what the SVB must know about the beschikking's PGB products (TKB)."""
    return []


def after_change(
    session: Session, runtime: Runtime, changed: list[Toewijzing], new: list[Toewijzing]
) -> list[Message]:
    """Queue the SVB follow-up of a change to PGB toewijzingen."""
    return []


__all__ = ["INBOUND_HANDLERS", "RETOUR_READERS", "after_beschikking", "after_change", "check_pgb"]
