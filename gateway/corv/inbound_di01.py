"""The jz0100 Di01 messages the justice chain sends us, stored in the gateway's terms.

- a notificatie is linked to our VTO by the gemeente's zaak identificatie
  (``heeftBetrekkingOpAndere/gerelateerde/identificatie``), never by crossRefnummer; one
  for an unknown zaak, or ambtshalve (no zaak of ours), is kept ``unmatched`` and
  announced with ``corv.notificatie.onbekende_zaak`` so an operator sees it;
- a notificatiejr (jeugdreclassering) and a zorgmelding are stored with their event;
  a zorgmelding becomes a task awaiting the terugkoppeling.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.corv import Notificatie, Notificatiejr, Zorgmelding
from gateway.events import (
    CORV_NOTIFICATIE_RECEIVED,
    CORV_NOTIFICATIE_UNKNOWN_ZAAK,
    CORV_NOTIFICATIEJR_RECEIVED,
    CORV_ZORGMELDING_RECEIVED,
    record_event,
)
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound, CorvVto, CorvZorgmelding

log = structlog.get_logger("gateway.corv")


def soort_of(parsed: Notificatie | Notificatiejr | Zorgmelding) -> str:
    if isinstance(parsed, Notificatie):
        return "notificatie"
    if isinstance(parsed, Notificatiejr):
        return "notificatiejr"
    return "zorgmelding"


def store_notificatie(session: Session, runtime: Runtime, inbound: CorvInbound, n: Notificatie) -> None:
    inbound.zaak_identificatie = (n.gemeente_zaak_identificatie or "")[:40] or None
    inbound.inhoud = {
        "status": str(n.status),
        "status_tijdstip": n.status_tijdstip,
        "resultaat": str(n.resultaat) if n.resultaat is not None else None,
        "raad_zaak_identificatie": n.zaak_identificatie,
        "ambtshalve": n.gemeente_zaak_identificatie is None,
        "client_ongeboren": n.client_ongeboren,
        "beslissingen": [
            {
                "datum": b.datum.isoformat(),
                "toelichting": b.toelichting,
                "ingangsdatum": b.ingangsdatum.isoformat() if b.ingangsdatum else None,
                "einddatum": b.einddatum.isoformat() if b.einddatum else None,
            }
            for b in n.beslissingen
        ],
    }
    vto = None
    if inbound.zaak_identificatie:
        vto = session.scalars(
            select(CorvVto)
            .where(CorvVto.zaak_identificatie == inbound.zaak_identificatie)
            .order_by(CorvVto.id.desc())
        ).first()
    data = {
        "notificatie_id": inbound.id,
        "zaak_identificatie": inbound.zaak_identificatie,
        "status": inbound.inhoud["status"],
        "resultaat": inbound.inhoud["resultaat"],
    }
    if vto is None:
        inbound.koppeling = "unmatched"
        record_event(
            session, runtime, CORV_NOTIFICATIE_UNKNOWN_ZAAK, ambtshalve=inbound.inhoud["ambtshalve"], **data
        )
        log.warning("corv_notificatie_unmatched", notificatie_id=inbound.id)
        return
    inbound.koppeling = "matched"
    inbound.vto_id = vto.id
    record_event(
        session, runtime, CORV_NOTIFICATIE_RECEIVED, message_id=vto.message_id, vto_id=vto.id, **data
    )


def store_notificatiejr(session: Session, runtime: Runtime, inbound: CorvInbound, n: Notificatiejr) -> None:
    inbound.inhoud = {
        "toezichtsoort": n.toezichtsoort,
        "omschrijving": n.omschrijving,
        "initiator": n.initiator,
        "contactpersoon": n.contactpersoon,
    }
    inbound.koppeling = "unmatched"
    record_event(
        session,
        runtime,
        CORV_NOTIFICATIEJR_RECEIVED,
        notificatie_id=inbound.id,
        toezichtsoort=n.toezichtsoort,
    )


def store_zorgmelding(session: Session, runtime: Runtime, inbound: CorvInbound, z: Zorgmelding) -> None:
    inbound.inhoud = {
        "kenmerk": z.kenmerk,
        "contactpersoon": z.contactpersoon,
        "initiator": z.initiator,
        "document_titel": z.document_titel,
        "document_bestandsnaam": z.document_bestandsnaam,
        "document_bytes": len(z.document),
    }
    row = CorvZorgmelding(
        inbound_id=inbound.id,
        zaak_identificatie=None,
        status="open",
        received_at=inbound.received_at,
    )
    session.add(row)
    session.flush()
    record_event(session, runtime, CORV_ZORGMELDING_RECEIVED, zorgmelding_id=row.id, kenmerk=z.kenmerk)
