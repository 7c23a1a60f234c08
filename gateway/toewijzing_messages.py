"""From stored toewijzingen to the 301 message model, per OP087.

OP087: one 301 per client per aanbieder, carrying every toewijzing that is valid on or
after today plus those changed since the previous 301 to that aanbieder - so the
aanbieder can always replace its whole picture of the client with the latest 301.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connectors.istandaard import Law
from connectors.istandaard.model import (
    Adres,
    BerichtHeader,
    Client,
    Contact,
    Naam,
    Omvang,
    Product,
    ToegewezenProduct,
    Toewijzingsbericht,
)
from gateway.store.tables import Beschikking, Message, Toewijzing

ZIN = "ZIN"


def current_toewijzingen(
    session: Session, *, law: Law, bsn_hash: str, agb: str, today: date
) -> list[Toewijzing]:
    """The toewijzingen the next 301 to ``agb`` about this client must carry (OP087)."""
    previous_301 = session.scalar(
        select(func.max(Message.created_at)).where(
            Message.bsn_hash == bsn_hash,
            Message.receiver == agb,
            Message.message_type == law.function_name(301),
        )
    )
    still_valid = or_(Toewijzing.einddatum.is_(None), Toewijzing.einddatum >= today)
    wanted = still_valid if previous_301 is None else or_(still_valid, Toewijzing.updated_at > previous_301)
    return list(
        session.scalars(
            select(Toewijzing)
            .where(
                Toewijzing.bsn_hash == bsn_hash,
                Toewijzing.aanbieder_agb == agb,
                Toewijzing.law == law.value,
                Toewijzing.leveringsvorm == ZIN,
                wanted,
            )
            .order_by(Toewijzing.id)
        )
    )


def carried_toewijzingen(
    rows: Iterable[Toewijzing], *, agb: str, today: date, previous_301: datetime | None
) -> list[Toewijzing]:
    """:func:`current_toewijzingen` over rows already at hand (the client's rows of one law).

    Why: bulk intake has loaded every toewijzing of its clients once; filtering them here
    saves a query per 301. ``previous_301`` is when the last 301 to ``agb`` about this
    client was made (None: never). The same conditions, the same id order.
    """
    return sorted(
        (
            row
            for row in rows
            if row.aanbieder_agb == agb
            and row.leveringsvorm == ZIN
            and (
                row.einddatum is None
                or row.einddatum >= today
                or (previous_301 is not None and row.updated_at > previous_301)
            )
        ),
        key=lambda row: row.id,
    )


def client_from_record(bsn: str, record: dict[str, Any]) -> Client:
    """The client as stored with the beschikking (API field names) -> message model."""
    naam = record["naam"]
    contacten: list[Contact] = []
    for soort, key in (("01", "adres"), ("03", "verblijfadres")):
        adres = record.get(key)
        if adres:
            contacten.append(
                Contact(
                    soort=soort,
                    adres=Adres(
                        huisnummer=adres.get("huisnummer"),
                        postcode=adres.get("postcode"),
                        straatnaam=adres.get("straatnaam"),
                        plaatsnaam=adres["plaatsnaam"],
                        huisletter=adres.get("huisletter"),
                        huisnummer_toevoeging=adres.get("huisnummer_toevoeging"),
                        landcode=adres.get("landcode", "NL"),
                    ),
                    telefoon=record.get("telefoon") if not contacten else None,
                    emailadres=record.get("emailadres") if not contacten else None,
                )
            )
    return Client(
        bsn=bsn,
        geboortedatum=date.fromisoformat(record["geboortedatum"]),
        geslacht=record["geslacht"],
        naam=Naam(
            achternaam=naam["achternaam"],
            voorvoegsel=naam.get("voorvoegsel"),
            voornamen=naam.get("voornamen"),
            voorletters=naam.get("voorletters"),
        ),
        contacten=tuple(contacten),
    )


def product_from_row(row: Toewijzing) -> ToegewezenProduct:
    omvang = None
    if row.volume is not None and row.eenheid is not None and row.frequentie is not None:
        omvang = Omvang(volume=row.volume, eenheid=row.eenheid, frequentie=row.frequentie)
    product = Product(categorie=row.categorie, code=row.productcode) if row.categorie else None
    return ToegewezenProduct(
        toewijzingnummer=row.id,
        toewijzingsdatum=row.toewijzingsdatum,
        toewijzingstijd=row.toewijzingstijd,
        ingangsdatum=row.ingangsdatum,
        einddatum=row.einddatum,
        product=product,
        reden_wijziging=row.reden_wijziging,
        omvang=omvang,
        budget=row.budget,
        referentie_aanbieder=row.referentie_aanbieder,
        commentaar=row.commentaar,
    )


def latest_client_record(session: Session, *, law: Law, bsn_hash: str) -> Beschikking:
    """The newest beschikking of the client: its client data is the most recent we have."""
    beschikking = session.scalars(
        select(Beschikking)
        .where(Beschikking.bsn_hash == bsn_hash, Beschikking.law == law.value)
        .order_by(Beschikking.id.desc())
        .limit(1)
    ).first()
    if beschikking is None:
        raise LookupError("no beschikking for this client")
    return beschikking


def build_toewijzingsbericht(
    *,
    law: Law,
    gemeentecode: str,
    agb: str,
    identificatie: str,
    dagtekening: date,
    beschikking: Beschikking,
    rows: list[Toewijzing],
) -> Toewijzingsbericht:
    return Toewijzingsbericht(
        header=BerichtHeader(
            law=law,
            afzender=gemeentecode,
            ontvanger=agb,
            identificatie=identificatie,
            dagtekening=dagtekening,
        ),
        client=client_from_record(beschikking.bsn, beschikking.client),
        producten=tuple(product_from_row(row) for row in rows),
    )
