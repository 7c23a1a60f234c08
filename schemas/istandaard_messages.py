"""The structures of the 14 iJw/iWmo 3.2 messages, as data.

The seven heenberichten are written out once for both laws (the two elements that exist
in iJw only carry ``only=Law.JEUGDWET``). Six retourberichten are *derived*: a retour
repeats its heenbericht, makes the body optional, adds retour fields to the header and a
``RetourCodes`` block to every record (every type that is not a plain list wrapper).
The iWmo retours mirror the iJw retours exactly (as the published iWmo 3.2 set has no
retour XSDs of its own), so they are derived from the iJw form of the heenbericht.
The declaratie-antwoord (325) has its own body and header and is written out, reusing
the 323 client/prestatie records with retour codes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from connectors.istandaard.law import Law
from schemas.istandaard_basis import Fields, Simple, f


class Party(Enum):
    """Who sends the message: decides the types of Afzender and Ontvanger in the header."""

    GEMEENTE = "gemeente"  # Afzender is a CBS gemeentecode, Ontvanger an AGB code
    AANBIEDER = "aanbieder"  # the reverse


@dataclass(frozen=True, slots=True)
class Message:
    """One message: ``Bericht`` holds ``Header`` and the ``body`` element (of type ``body``).

    ``types`` are the message's own complex types below the header, in document order.
    """

    number: int
    title: str
    sender: Party
    body: str
    types: dict[str, Fields]
    body_optional: bool = False
    header_extra: Fields = ()

    def fields_for(self, law: Law, type_name: str) -> Fields:
        """The fields of ``type_name`` as they apply to ``law``."""
        return tuple(x for x in self.types[type_name] if x.only is None or x.only is law)


RETOUR_CODES: Fields = (f("RetourCode", "LDT_RetourCode", "+"),)

_RETOUR_HEADER: Fields = (
    f("IdentificatieRetour", "LDT_IdentificatieBericht"),
    f("DagtekeningRetour", "LDT_Datum"),
    f("XsltVersie", "LDT_Versie", "?"),
    f("XsdVersieRetour", "CDT_XsdVersie"),
    f("RetourCodes", "RetourCodes", "?"),
)

_DECLARATIE_ANTWOORD_HEADER: Fields = (
    f("DeclaratieIdentificatie", "CDT_BerichtIdentificatie"),
    f("XsltVersie", "LDT_Versie", "?"),
    f("XsdVersieDeclaratie", "CDT_XsdVersie"),
    f("RetourCodes", "RetourCodes"),
)

HEENBERICHTEN: dict[int, Message] = {
    301: Message(
        301,
        "Toewijzing: the gemeente assigns care or support to a provider",
        sender=Party.GEMEENTE,
        body="Client",
        types={
            "Client": (
                f("Bsn", "LDT_BurgerServicenummer"),
                f("Geboortedatum", "CDT_Geboortedatum"),
                f("Geslacht", "LDT_Geslacht"),
                f("Naam", "CDT_VolledigeNaam"),
                f("Communicatie", "CDT_Communicatie", "?"),
                f("JuridischeStatus", "LDT_JuridischeStatus", "?"),
                f("WettelijkeVertegenwoordiging", "LDT_WettelijkeVertegenwoordiging", "?"),
                f("Commentaar", "LDT_Commentaar", "?"),
                f("Relaties", "Relaties", "?"),
                f("Contactgegevens", "Contactgegevens"),
                f("ToegewezenProducten", "ToegewezenProducten"),
            ),
            "Relaties": (f("Relatie", "Relatie", "+"),),
            "Relatie": (
                f("Nummer", "LDT_Persoonsid"),
                f("Volgorde", "LDT_RelatieVolgorde", "?"),
                f("Soort", "LDT_SoortRelatie"),
                f("Geboortedatum", "CDT_Geboortedatum", "?"),
                f("Geslacht", "LDT_Geslacht", "?"),
                f("Naam", "CDT_VolledigeNaam"),
                f("Contact", "Contact"),
            ),
            "Contact": (
                f("Soort", "LDT_AdresSoort"),
                f("Adres", "CDT_Adres", "?"),
                f("Organisatie", "LDT_Organisatienaam", "?"),
                f("Telefoon", "CDT_Telefoonnummers", "?"),
                f("Emailadres", "LDT_Emailadres", "?"),
                f("Periode", "CDT_OpenPeriode", "?"),
            ),
            "Contactgegevens": (f("Contact", "Contact", "+"),),
            "ToegewezenProducten": (f("ToegewezenProduct", "ToegewezenProduct", "+"),),
            "ToegewezenProduct": (
                f("ToewijzingNummer", "LDT_Nummer"),
                f("ReferentieAanbieder", "LDT_Referentie", "?"),
                f("Product", "CDT_Product", "?"),
                f("Toewijzingsdatum", "LDT_Datum"),
                f("Toewijzingstijd", "LDT_Tijd"),
                f("Ingangsdatum", "LDT_Datum"),
                f("Einddatum", "LDT_Datum", "?"),
                f("RedenWijziging", "LDT_RedenWijziging", "?"),
                f("Omvang", "CDT_Omvang", "?"),
                f("Budget", "LDT_Budget", "?"),
                f("Commentaar", "LDT_Commentaar", "?"),
            ),
        },
    ),
    305: Message(
        305,
        "Start zorg: the provider reports that care has started",
        sender=Party.AANBIEDER,
        body="Client",
        types={
            "Client": (
                f("Bsn", "LDT_BurgerServicenummer"),
                f("Geboortedatum", "CDT_Geboortedatum"),
                f("Geslacht", "LDT_Geslacht"),
                f("Naam", "CDT_VerkorteNaam"),
                f("StartProducten", "StartProducten"),
            ),
            "StartProducten": (f("StartProduct", "StartProduct", "+"),),
            "StartProduct": (
                f("ToewijzingNummer", "LDT_Nummer", "?"),
                f("Product", "CDT_Product", "?"),
                f("ToewijzingIngangsdatum", "LDT_Datum", "?"),
                f("Begindatum", "LDT_Datum"),
                f("StatusAanlevering", "LDT_StatusAanlevering"),
            ),
        },
    ),
    307: Message(
        307,
        "Stop zorg: the provider reports that care has ended",
        sender=Party.AANBIEDER,
        body="Client",
        types={
            "Client": (
                f("Bsn", "LDT_BurgerServicenummer"),
                f("Geboortedatum", "CDT_Geboortedatum"),
                f("Geslacht", "LDT_Geslacht"),
                f("Naam", "CDT_VerkorteNaam"),
                f("StopProducten", "StopProducten"),
            ),
            "StopProducten": (f("StopProduct", "StopProduct", "+"),),
            "StopProduct": (
                f("ToewijzingNummer", "LDT_Nummer", "?"),
                f("Product", "CDT_Product", "?"),
                f("ToewijzingIngangsdatum", "LDT_Datum", "?"),
                f("Begindatum", "LDT_Datum"),
                f("RedenBeeindiging", "LDT_RedenBeeindiging"),
                f("Einddatum", "LDT_Datum"),
                f("StatusAanlevering", "LDT_StatusAanlevering"),
            ),
        },
    ),
    315: Message(
        315,
        "Verzoek om toewijzing: the provider asks for an assignment",
        sender=Party.AANBIEDER,
        body="Client",
        types={
            "Client": (
                f("Bsn", "LDT_BurgerServicenummer"),
                f("Geboortedatum", "CDT_Geboortedatum"),
                f("Geslacht", "LDT_Geslacht"),
                f("Naam", "CDT_VerkorteNaam"),
                f("GezagsdragerBekend", "LDT_JaNee", "?", only=Law.JEUGDWET),
                f("Commentaar", "LDT_Commentaar", "?"),
                f("AangevraagdeProducten", "AangevraagdeProducten"),
            ),
            "AangevraagdeProducten": (f("AangevraagdProduct", "AangevraagdProduct", "+"),),
            "AangevraagdProduct": (
                f("ReferentieAanbieder", "LDT_Referentie"),
                f("BeschikkingNummer", "LDT_Nummer", "?"),
                f("Product", "CDT_Product", "?"),
                f("BeschikkingIngangsdatum", "LDT_Datum", "?"),
                f("ToewijzingIngangsdatum", "LDT_Datum"),
                f("ToewijzingEinddatum", "LDT_Datum", "?"),
                f("Omvang", "CDT_Omvang", "?"),
                f("Budget", "LDT_Budget", "?"),
                f("Verwijzer", "CDT_Verwijzer"),
                f("Raamcontract", "LDT_JaNee", "?"),
                f("Commentaar", "LDT_Commentaar", "?"),
            ),
        },
    ),
    317: Message(
        317,
        "Verzoek om wijziging: the provider asks to change assignments",
        sender=Party.AANBIEDER,
        body="Client",
        types={
            "Client": (
                f("Bsn", "LDT_BurgerServicenummer"),
                f("Verzoek", "Verzoek"),
            ),
            "Verzoek": (
                f("ReferentieAanbieder", "LDT_Referentie"),
                f("RedenVerzoek", "LDT_RedenVerzoek"),
                f("OngewijzigdeProducten", "OngewijzigdeProducten", "?"),
                f("TeWijzigenProducten", "TeWijzigenProducten", "?"),
                f("NieuweProducten", "NieuweProducten", "?"),
            ),
            "OngewijzigdeProducten": (f("OngewijzigdProduct", "OngewijzigdProduct", "+"),),
            "OngewijzigdProduct": (f("ToewijzingNummer", "LDT_Nummer"),),
            "TeWijzigenProducten": (f("TeWijzigenProduct", "TeWijzigenProduct", "+"),),
            "TeWijzigenProduct": (
                f("ToewijzingNummer", "LDT_Nummer"),
                f("GewensteIngangsdatum", "LDT_Datum"),
                f("Einddatum", "LDT_Datum", "?"),
                f("Omvang", "CDT_Omvang", "?"),
                f("Budget", "LDT_Budget", "?"),
            ),
            "NieuweProducten": (f("NieuwProduct", "NieuwProduct", "+"),),
            "NieuwProduct": (
                f("Product", "CDT_Product", "?"),
                f("GewensteIngangsdatum", "LDT_Datum"),
                f("Einddatum", "LDT_Datum", "?"),
                f("Omvang", "CDT_Omvang", "?"),
                f("Budget", "LDT_Budget", "?"),
            ),
        },
    ),
    319: Message(
        319,
        "Antwoordbericht: the gemeente answers a 315 or 317",
        sender=Party.GEMEENTE,
        body="Antwoord",
        types={
            "Antwoord": (
                f("ReferentieAanbieder", "LDT_Referentie"),
                f("VerzoekAntwoord", "LDT_VerzoekAntwoord"),
                f("RedenAfwijzingVerzoek", "LDT_RedenAfwijzingVerzoek", "?"),
                f("Woonplaatsbeginsel", "Woonplaatsbeginsel", "?", only=Law.JEUGDWET),
            ),
            "Woonplaatsbeginsel": (f("Gemeente", "LDT_Gemeente"),),
        },
    ),
    323: Message(
        323,
        "Declaratie: the provider invoices delivered care",
        sender=Party.AANBIEDER,
        body="Declaratie",
        types={
            "Declaratie": (
                f("DeclaratieNummer", Simple("LDT_IdentificatieDeclaratie", pattern=r"([a-zA-Z0-9])+")),
                f("DeclaratiePeriode", "CDT_GeslotenPeriode"),
                f("DeclaratieDagtekening", "LDT_Datum"),
                f("TotaalIngediendBedrag", "CDT_TotaalBedragMetDC"),
                f("Clienten", "Clienten"),
            ),
            "Clienten": (f("Client", "Client", "+"),),
            "Client": (
                f("Bsn", "LDT_BurgerServicenummer"),
                f("Prestaties", "Prestaties"),
            ),
            "Prestaties": (f("Prestatie", "Prestatie", "+"),),
            "Prestatie": (
                f("ProductReferentie", "CDT_Referentie"),
                f("ToewijzingNummer", "LDT_Nummer"),
                f("ProductCategorie", "LDT_ProductCategorie"),
                f("ProductCode", "LDT_ProductCode"),
                f("ProductPeriode", "CDT_GeslotenPeriode"),
                f("GeleverdVolume", "LDT_Volume"),
                f("Eenheid", "LDT_Eenheid"),
                f("ProductTarief", "LDT_Bedrag", "?"),
                f("IngediendBedrag", "CDT_BedragMetDC"),
            ),
        },
    ),
}


def _is_list_wrapper(fields: Fields) -> bool:
    """A type holding only a repeated child (``Relaties`` → ``Relatie+``) gets no retour codes."""
    return len(fields) == 1 and fields[0].occurs in ("+", "*")


def _with_retour_codes(types: dict[str, Fields]) -> dict[str, Fields]:
    """Every record gets a mandatory ``RetourCodes`` after its own fields; ``only`` is dropped."""
    result: dict[str, Fields] = {}
    for name, fields in types.items():
        plain = tuple(replace(x, only=None) for x in fields)
        result[name] = plain if _is_list_wrapper(plain) else (*plain, f("RetourCodes", "RetourCodes"))
    return result


def _retour(heen: Message, title: str) -> Message:
    return Message(
        heen.number + 1,
        title,
        sender=heen.sender,  # a retour repeats the header of the message it answers
        body=heen.body,
        types={"RetourCodes": RETOUR_CODES, **_with_retour_codes(heen.types)},
        body_optional=True,
        header_extra=_RETOUR_HEADER,
    )


def _declaratie_antwoord() -> Message:
    declaratie = HEENBERICHTEN[323].types
    records = {name: declaratie[name] for name in ("Clienten", "Client", "Prestaties", "Prestatie")}
    return Message(
        325,
        "Declaratie-antwoord: the gemeente accepts or rejects each prestatie of a 323",
        sender=Party.GEMEENTE,
        body="DeclaratieAntwoord",
        types={
            "RetourCodes": RETOUR_CODES,
            "DeclaratieAntwoord": (
                f("DeclaratieNummer", "LDT_IdentificatieDeclaratie"),
                f("TotaalIngediendBedrag", "CDT_TotaalBedragMetDC"),
                f("TotaalToegekendBedrag", "CDT_TotaalBedragMetDC"),
                f("Clienten", "Clienten", "?"),
                f("RetourCodes", "RetourCodes"),
            ),
            **_with_retour_codes(records),
        },
        body_optional=True,
        header_extra=_DECLARATIE_ANTWOORD_HEADER,
    )


_RETOUR_TITLES = {
    301: "Toewijzing retour",
    305: "Start zorg retour",
    307: "Stop zorg retour",
    315: "Verzoek om toewijzing retour",
    317: "Verzoek om wijziging retour",
    319: "Antwoordbericht retour",
}

MESSAGES: dict[int, Message] = dict(
    sorted(
        {
            **HEENBERICHTEN,
            **{n + 1: _retour(HEENBERICHTEN[n], title) for n, title in _RETOUR_TITLES.items()},
            325: _declaratie_antwoord(),
        }.items()
    )
)
