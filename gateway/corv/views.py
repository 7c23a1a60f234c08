"""Reading CORV rows into the API's shapes (shared by the routes and the tests)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.corv.api_models import (
    BerichtLink,
    Fout,
    NotificatieOut,
    VtoOut,
    ZorgmeldingOut,
)
from gateway.corv.vto import vto_state
from gateway.store.corv_tables import CorvInbound, CorvOutbound, CorvVto, CorvZorgmelding
from gateway.store.tables import Message

NOTIFICATIE_SOORTEN = ("notificatie", "notificatiejr")


def bericht_link(session: Session, message_id: int) -> BerichtLink | None:
    message = session.get(Message, message_id)
    outbound = session.get(CorvOutbound, message_id)
    if message is None or outbound is None:
        return None
    return BerichtLink(
        id=message.id,
        type=message.message_type,
        state=message.state,
        ebms_message_id=outbound.ebms_message_id,
        attempts=message.attempts,
        href=f"/api/v1/berichten/{message.id}",
    )


def notificatie_out(row: CorvInbound) -> NotificatieOut:
    return NotificatieOut(
        id=row.id,
        soort=row.soort,
        status=row.status,
        koppeling=row.koppeling,
        zaak_identificatie=row.zaak_identificatie,
        vto_id=row.vto_id,
        inhoud=row.inhoud,
        received_at=row.received_at,
        href=f"/api/v1/corv/notificaties/{row.id}",
    )


def vto_out(session: Session, vto: CorvVto) -> VtoOut:
    message = session.get(Message, vto.message_id)
    outbound = session.get(CorvOutbound, vto.message_id)
    link = bericht_link(session, vto.message_id)
    assert message is not None and outbound is not None and link is not None
    notificaties = session.scalars(
        select(CorvInbound)
        .where(CorvInbound.vto_id == vto.id, CorvInbound.soort.in_(NOTIFICATIE_SOORTEN))
        .order_by(CorvInbound.id)
    ).all()
    fout = None
    if vto.answer == "rejected":
        fout = Fout(code=vto.fout_code, omschrijving=vto.fout_tekst)
    elif outbound.message_error:
        code, _, text = outbound.message_error.partition(": ")
        fout = Fout(code=code, omschrijving=text)
    return VtoOut(
        id=vto.id,
        zaak_identificatie=vto.zaak_identificatie,
        state=vto_state(vto, message, outbound.acked_at is not None),
        urgentie=vto.urgentie,
        ebms_message_id=outbound.ebms_message_id,
        referentienummer=message.referentienummer,
        bericht=link,
        fout=fout,
        samenvatting=vto.samenvatting,
        notificaties=[notificatie_out(n) for n in notificaties],
        created_at=vto.created_at,
        answered_at=vto.answered_at,
    )


def zorgmelding_out(session: Session, row: CorvZorgmelding) -> ZorgmeldingOut:
    inbound = session.get(CorvInbound, row.inbound_id)
    inhoud = inbound.inhoud if inbound is not None else {}
    return ZorgmeldingOut(
        id=row.id,
        status=row.status,
        kenmerk=inhoud.get("kenmerk"),
        zaak_identificatie=row.zaak_identificatie,
        inhoud=inhoud,
        terugkoppeling=row.terugkoppeling,
        terugkoppeling_bericht=(
            bericht_link(session, row.terugkoppeling_message_id) if row.terugkoppeling_message_id else None
        ),
        received_at=row.received_at,
        answered_at=row.answered_at,
    )
