"""One message to the CAK: a WMO405/407 built from the gateway's records and queued.

Shared by the automatic start/stop (:mod:`gateway.eigen_bijdrage`) and the correction
after an uitnodiging tot herstel (:mod:`gateway.eigen_bijdrage_herstel`): the provision
summaries (stored as JSON without a BSN in ``cak_meldingen``), the client block (from
the client's latest Wmo beschikking) and the outbox row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.cak import BerichtRef, Melding, Regeling, Soort, Voorziening, render_melding
from connectors.istandaard.model_inbound import ClientKort, VerkorteNaam
from gateway.clock import NL, local_now
from gateway.outbox import enqueue_ggk_heenbericht
from gateway.runtime import Runtime
from gateway.settings import EigenBijdragePolicy
from gateway.store.cak_tables import CakKostprijs, CakMelding
from gateway.store.tables import Beschikking, Message, Toewijzing

CAK = "CAK"
WMO = "wmo"


@dataclass(frozen=True, slots=True)
class Provision:
    """A chargeable provision as it counts for the CAK: its toewijzing and effective period."""

    row: Toewijzing
    regeling: Regeling
    begin: date
    end: date | None


def regeling_of(policy: EigenBijdragePolicy, categorie: str | None, code: str | None) -> Regeling | None:
    """Which CAK arrangement a Wmo product falls under, or None when it is exempt."""
    if code is not None and code in policy.vrijgestelde_productcodes:
        return None
    if categorie in policy.beschermd_wonen_categorieen:
        return Regeling.BESCHERMD_WONEN
    if categorie in policy.bijdrage_categorieen or (
        code is not None and code in policy.extra_bijdrage_productcodes
    ):
        return Regeling.EIGEN_BIJDRAGE
    return None


def store_kostprijs(session: Session, runtime: Runtime, toewijzing_id: int, kostprijs: int) -> None:
    row = session.get(CakKostprijs, toewijzing_id)
    if row is None:
        session.add(
            CakKostprijs(toewijzing_id=toewijzing_id, kostprijs=kostprijs, updated_at=runtime.clock.now())
        )
    else:
        row.kostprijs, row.updated_at = kostprijs, runtime.clock.now()


def summarise(session: Session, runtime: Runtime, provision: Provision) -> dict[str, Any]:
    """One Voorziening as stored in ``cak_meldingen`` (JSON, no BSN) and sent to the CAK."""
    row = provision.row
    kostprijs: int | None = None
    if (
        provision.regeling is Regeling.EIGEN_BIJDRAGE
        and row.categorie in runtime.settings.eigen_bijdrage.kostprijs_categorieen
    ):
        stored = session.get(CakKostprijs, row.id)
        kostprijs = stored.kostprijs if stored is not None else None
    return {
        "toewijzingnummer": row.id,
        "beschikkingnummer": row.beschikking.beschikkingnummer,
        "categorie": row.categorie,
        "code": row.productcode,
        "leveringsvorm": row.leveringsvorm,
        "ingangsdatum": provision.begin.isoformat(),
        "einddatum": None if provision.end is None else provision.end.isoformat(),
        "kostprijs": kostprijs,
    }


def enqueue_melding(
    session: Session,
    runtime: Runtime,
    *,
    bsn_hash: str,
    regeling: Regeling,
    soort: Soort,
    datum: date,
    voorzieningen: list[dict[str, Any]],
    oorzaak: str,
    corrects: Message | None,
) -> Message:
    """Render and queue one WMO405/407 and record it in ``cak_meldingen``."""
    beschikking = session.scalars(
        select(Beschikking)
        .where(Beschikking.bsn_hash == bsn_hash, Beschikking.law == WMO)
        .order_by(Beschikking.id.desc())
    ).first()
    if beschikking is None:
        raise LookupError("no Wmo beschikking for this client")
    client = _client(beschikking)
    today = local_now(runtime.clock).date()
    herstel_van = None
    if corrects is not None:  # its Dagtekening was the Dutch date it was created on
        herstel_van = BerichtRef(corrects.bericht_identificatie, corrects.created_at.astimezone(NL).date())

    def render(identificatie: str) -> bytes:
        return render_melding(
            Melding(
                regeling=regeling,
                afzender=runtime.settings.gemeentecode,
                bericht=BerichtRef(identificatie, today),
                client=client,
                soort=soort,
                datum=datum,
                voorzieningen=tuple(_voorziening(v) for v in voorzieningen),
                herstel_van=herstel_van,
            )
        )

    message = enqueue_ggk_heenbericht(
        session,
        runtime,
        functie=regeling.functie,
        law=WMO,
        receiver=CAK,
        render_payload=render,
        beschikking_id=beschikking.id,
        bsn_hash=bsn_hash,
    )
    session.add(
        CakMelding(
            message_id=message.id,
            bsn_hash=bsn_hash,
            regeling=regeling.value,
            soort="start" if soort is Soort.START else "stop",
            datum=datum,
            voorzieningen=voorzieningen,
            oorzaak=oorzaak[:12],
            status="sent",
            corrects_message_id=None if corrects is None else corrects.id,
            created_at=runtime.clock.now(),
        )
    )
    return message


def _voorziening(v: dict[str, Any]) -> Voorziening:
    return Voorziening(
        toewijzingnummer=int(v["toewijzingnummer"]),
        beschikkingnummer=str(v["beschikkingnummer"]),
        categorie=str(v["categorie"]),
        code=v.get("code"),
        leveringsvorm=str(v["leveringsvorm"]),
        ingangsdatum=date.fromisoformat(v["ingangsdatum"]),
        einddatum=date.fromisoformat(v["einddatum"]) if v.get("einddatum") else None,
        kostprijs=v.get("kostprijs"),
    )


def _client(beschikking: Beschikking) -> ClientKort:
    data = beschikking.client
    naam = data.get("naam", {})
    return ClientKort(
        bsn=beschikking.bsn,
        geboortedatum=date.fromisoformat(data["geboortedatum"]),
        geslacht=str(data.get("geslacht", "0")),
        naam=VerkorteNaam(
            achternaam=naam["achternaam"],
            voorvoegsel=naam.get("voorvoegsel"),
            voornamen=naam.get("voornamen"),
            voorletters=naam.get("voorletters"),
        ),
    )
