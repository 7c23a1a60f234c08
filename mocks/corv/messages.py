"""The StUF messages the mock hub sends to the gemeente (notificaties, notificatiejr,
zorgmelding), built with the connector so that they validate like the real ones."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from pydantic import BaseModel, Field

from connectors.corv import (
    Beslissing,
    Notificatie,
    Notificatiejr,
    NotificatieResultaat,
    NotificatieStatus,
    Persoon,
    Stuurgegevens,
    Systeem,
    Zorgmelding,
    render_notificatie,
    render_notificatiejr,
    render_zorgmelding,
)


class NotificatieRequest(BaseModel):
    """One notificatie; ``zaak_identificatie`` None = ambtshalve (no VTO of the gemeente)."""

    zaak_identificatie: str | None = None
    status: NotificatieStatus = NotificatieStatus.INTAKE_AFGEROND
    resultaat: NotificatieResultaat | None = None
    client_bsn: str = Field(default="999900006", pattern=r"^[0-9]{9}$")
    raad_zaak_identificatie: str | None = None


class SeriesRequest(BaseModel):
    """The Raad's series for one VTO: intake, onderzoek and zaak afgerond (with resultaat)."""

    zaak_identificatie: str
    resultaat: NotificatieResultaat = NotificatieResultaat.MAATREGEL_OPGELEGD
    client_bsn: str = Field(default="999900006", pattern=r"^[0-9]{9}$")


class NotificatiejrRequest(BaseModel):
    toezichtsoort: str = Field(default="01", pattern=r"^(0[1-9]|1[0-3])$")
    jeugdige_bsn: str = Field(default="999900018", pattern=r"^[0-9]{9}$")


class ZorgmeldingRequest(BaseModel):
    kenmerk: str = Field(default_factory=lambda: f"ZM-{uuid.uuid4().hex[:12]}", max_length=40)
    jeugdige_bsn: str = Field(default="999900043", pattern=r"^[0-9]{9}$")


def new_referentienummer() -> str:
    return f"CORV-{uuid.uuid4().hex[:30]}"


def stuurgegevens(hub_oin: str, gemeente_oin: str, functie: str) -> Stuurgegevens:
    return Stuurgegevens(
        zender=Systeem(organisatie=hub_oin, applicatie="CORV"),
        ontvanger=Systeem(organisatie=gemeente_oin, applicatie="gemeente"),
        referentienummer=new_referentienummer(),
        tijdstip=datetime.now(UTC),
        functie=functie,
    )


def notificatie(request: NotificatieRequest, hub_oin: str, gemeente_oin: str) -> bytes:
    now = datetime.now(UTC)
    beslissingen: tuple[Beslissing, ...] = ()
    if request.resultaat == NotificatieResultaat.MAATREGEL_OPGELEGD:
        beslissingen = (
            Beslissing(datum=now.date(), toelichting="Ondertoezichtstelling", ingangsdatum=now.date()),
        )
    return render_notificatie(
        Notificatie(
            stuurgegevens=stuurgegevens(hub_oin, gemeente_oin, "notificatieDi01"),
            status=request.status,
            status_tijdstip=now.strftime("%Y%m%d%H%M%S"),
            client=Persoon(bsn=request.client_bsn, geslachtsnaam="Jansen"),
            zaak_identificatie=request.raad_zaak_identificatie or f"RVDK-{uuid.uuid4().hex[:10]}",
            gemeente_zaak_identificatie=request.zaak_identificatie,
            resultaat=request.resultaat,
            beslissingen=beslissingen,
        )
    )


def series(request: SeriesRequest) -> list[NotificatieRequest]:
    raad = f"RVDK-{uuid.uuid4().hex[:10]}"
    common = {"zaak_identificatie": request.zaak_identificatie, "client_bsn": request.client_bsn}
    return [
        NotificatieRequest(status=NotificatieStatus.INTAKE_AFGEROND, raad_zaak_identificatie=raad, **common),
        NotificatieRequest(
            status=NotificatieStatus.ONDERZOEK_AFGEROND, raad_zaak_identificatie=raad, **common
        ),
        NotificatieRequest(
            status=NotificatieStatus.ZAAK_AFGEROND,
            resultaat=request.resultaat,
            raad_zaak_identificatie=raad,
            **common,
        ),
    ]


def notificatiejr(request: NotificatiejrRequest, hub_oin: str, gemeente_oin: str) -> bytes:
    return render_notificatiejr(
        Notificatiejr(
            stuurgegevens=stuurgegevens(hub_oin, gemeente_oin, "notificatiejrDi01"),
            toezichtsoort=request.toezichtsoort,
            jeugdige=Persoon(bsn=request.jeugdige_bsn, geslachtsnaam="de Boer"),
            omschrijving="Jeugdreclassering",
            initiator="Openbaar Ministerie",
            contactpersoon="M. Officier",
        )
    )


def zorgmelding(request: ZorgmeldingRequest, hub_oin: str, gemeente_oin: str) -> bytes:
    return render_zorgmelding(
        Zorgmelding(
            stuurgegevens=stuurgegevens(hub_oin, gemeente_oin, "zorgmeldingDi01"),
            kenmerk=request.kenmerk,
            contactpersoon="Wijkagent Test",
            document=b"%PDF-1.4 zorgmelding\n",
            document_creatiedatum=date.today(),
            extra={"aanleiding": "Huiselijke situatie"},
            jeugdige=Persoon(bsn=request.jeugdige_bsn, geslachtsnaam="Visser"),
            initiator="Politie",
            document_titel="Zorgmelding",
            document_bestandsnaam="zorgmelding.pdf",
        )
    )
