"""Sample CORV messages for the tests (test BSNs 9999xxxxx, test OINs 00000099…)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from connectors.corv import (
    Belanghebbende,
    Document,
    DocumentSoort,
    Kind,
    Persoon,
    Stuurgegevens,
    Systeem,
    Terugkoppeling,
    TerugkoppelingResultaat,
    Uitvoerende,
    Urgentie,
    Vestiging,
    Vto,
)

GEMEENTE_OIN = "00000099000000000637"
CORV_OIN = "00000099000000001000"
GEMEENTE = Systeem(organisatie=GEMEENTE_OIN, applicatie="gemeente-gateway")
CORV = Systeem(organisatie=CORV_OIN, applicatie="CORV")
MOMENT = datetime(2026, 11, 29, 10, 15, 30, 123000, tzinfo=UTC)

KIND = Kind(Persoon(bsn="999900006", geslachtsnaam="Jansen", voornamen="Sam", geboortedatum=date(2015, 3, 1)))
KIND_2 = Kind(Persoon(bsn="999900018", geslachtsnaam="Jansen", voornamen="Lou", geslachtsaanduiding="V"))
ONGEBOREN = Kind(Persoon(geslachtsnaam="Jansen"), ongeboren=True)
MOEDER = Belanghebbende(
    rol="ouder met gezag",
    persoon=Persoon(
        bsn="999900031", anp_identificatie="12345678901234567", geslachtsnaam="Jansen", voorletters="A.",
        geboortedatum=date(1990, 5, 17), telefoonnummer="0612345678",
    ),
)  # fmt: skip
VADER = Belanghebbende(
    rol="ouder zonder gezag",
    persoon=Persoon(bsn="999900043", anp_identificatie="76543210987654321", geslachtsnaam="Bakker"),
)
VOOGD = Belanghebbende(
    rol="voogd", vestiging=Vestiging(handelsnaam="Jeugdbescherming Test", telefoonnummer="0101234567")
)
UITVOERENDE = Uitvoerende(
    achternaam="de Vries", organisatie="Gemeente Testdorp", voorletters="P.", telefoonnummer="0201234567"
)


def stuurgegevens(functie: str, referentienummer: str = "REF-0001") -> Stuurgegevens:
    return Stuurgegevens(
        zender=GEMEENTE, ontvanger=CORV, referentienummer=referentienummer, tijdstip=MOMENT, functie=functie
    )


def document(soort: DocumentSoort, content: bytes = b"%PDF-1.4 test\n", n: int = 1) -> Document:
    return Document(
        soort=soort,
        identificatie=f"DOC-{n:04d}",
        bestandsnaam=f"document-{n}.pdf",
        content=content,
        creatiedatum=date(2026, 11, 28),
        titel=str(soort),
    )


def vto(
    *,
    referentienummer: str = "REF-0001",
    zaak: str = "ZAAK-2026-0001",
    kinderen: tuple[Kind, ...] = (KIND,),
    belanghebbenden: tuple[Belanghebbende, ...] = (MOEDER,),
    urgentie: Urgentie = Urgentie.LAAG,
    documenten: tuple[Document, ...] | None = None,
) -> Vto:
    return Vto(
        stuurgegevens=stuurgegevens("vtoDi01", referentienummer),
        zaak_identificatie=zaak,
        startdatum=date(2026, 11, 1),
        registratiedatum=date(2026, 11, 2),
        urgentie=urgentie,
        kinderen=kinderen,
        belanghebbenden=belanghebbenden,
        uitvoerende=UITVOERENDE,
        documenten=documenten if documenten is not None else (document(DocumentSoort.VERZOEK_TOT_ONDERZOEK),),
    )


ALL_DOCUMENTS = tuple(document(soort, n=i) for i, soort in enumerate(DocumentSoort, 1))

VTO_VARIANTS: dict[str, Vto] = {
    "minimal": vto(),
    "unborn-child": vto(kinderen=(ONGEBOREN,)),
    "several-children": vto(kinderen=(KIND, KIND_2, ONGEBOREN)),
    "several-belanghebbenden": vto(belanghebbenden=(MOEDER, VADER, VOOGD)),
    "urgentie-hoog": vto(urgentie=Urgentie.HOOG),
    "all-document-types": vto(documenten=ALL_DOCUMENTS),
}


def terugkoppeling(
    resultaat: TerugkoppelingResultaat = TerugkoppelingResultaat.GEEN_ACTIE_NODIG,
) -> Terugkoppeling:
    return Terugkoppeling(
        stuurgegevens=stuurgegevens("zorgmeldingTerugkoppelingDi01", "REF-TK-0001"),
        zaak_identificatie="ZAAK-ZM-0001",
        zorgmelding_kenmerk="ZM-POLITIE-42",
        resultaat=resultaat,
        contactpersoon="P. de Vries",
    )


TERUGKOPPELING_VARIANTS: dict[str, Terugkoppeling] = {
    "geen-actie": terugkoppeling(),
    "vervolgactie": terugkoppeling(TerugkoppelingResultaat.VERVOLGACTIE_NODIG),
    "with-jeugdige-and-ouders": Terugkoppeling(
        stuurgegevens=stuurgegevens("zorgmeldingTerugkoppelingDi01", "REF-TK-0002"),
        zaak_identificatie="ZAAK-ZM-0002",
        zorgmelding_kenmerk="ZM-POLITIE-43",
        resultaat=TerugkoppelingResultaat.VERVOLGACTIE_NODIG,
        contactpersoon="P. de Vries",
        jeugdige=Persoon(bsn="999900006", geslachtsnaam="Jansen", geboortedatum=date(2015, 3, 1)),
        belanghebbenden=(
            Belanghebbende(
                rol="moeder", persoon=Persoon(geslachtsnaam="Jansen", geboortedatum=date(1990, 5, 17))
            ),
            Belanghebbende(rol="voogd", vestiging=Vestiging(handelsnaam="Jeugdbescherming Test")),
        ),
    ),
}
