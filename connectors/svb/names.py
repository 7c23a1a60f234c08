"""The iPgb 1.0 facts the project's own model uses: message kinds, namespaces,
BerichtCodes, envelope functies, schema paths and the model's code lists.

Why a separate module: the official iPgb XSDs are not public. Everything that would
change when they are obtained (namespaces, element names, codes) lives here and in
``schemas/ipgb-1.0/``, so swapping in the official definition touches one place.

Envelope ``functie``: the law's prefix plus the Vektis BerichtCode (``WMO458``,
``JW460`` ...). iWmo/iJw name their functies after the message number (``WMO301``);
iPgb messages have no such number, so the BerichtCode plays that part.
"""

from __future__ import annotations

from enum import StrEnum

from connectors.istandaard.law import Law

#: The envelope organisatie (and payload Afzender/Ontvanger) of the SVB.
SVB = "SVB"
#: BerichtVersie / BerichtSubversie of iPgb 1.0, and the model's XsdVersie.
BERICHT_VERSIE = "1"
BERICHT_SUBVERSIE = "0"
XSD_VERSIE = "1.0.0"
SCHEMA_FOLDER = "ipgb-1.0"


class Kind(StrEnum):
    """The four iPgb messages; the value is the XSD's file stem and namespace suffix."""

    TKB = "tkb"
    TKB_RETOUR = "tkb-retour"
    BAB = "bab"
    BAB_RETOUR = "bab-retour"

    @property
    def namespace(self) -> str:
        return f"urn:gemeente-gateway:model:ipgb:1.0:{self.value}"

    @property
    def prefix(self) -> str:
        """The namespace prefix the rendered documents use (as the XSDs do)."""
        return {"tkb": "tkb", "tkb-retour": "tkbr", "bab": "bab", "bab-retour": "babr"}[self.value]

    @property
    def schema_path(self) -> str:
        return f"{SCHEMA_FOLDER}/{self.value}.xsd"

    def bericht_code(self, law: Law) -> str:
        return _BERICHT_CODES[self][law]

    def functie(self, law: Law) -> str:
        """The GGk envelope functie, e.g. ``WMO458`` (see the module docstring)."""
        return f"{law.message_prefix.upper()}{self.bericht_code(law)}"

    def law_of_code(self, code: str) -> Law | None:
        for law, known in _BERICHT_CODES[self].items():
            if known == code:
                return law
        return None


_BERICHT_CODES: dict[Kind, dict[Law, str]] = {
    Kind.TKB: {Law.WMO: "458", Law.JEUGDWET: "460"},
    Kind.TKB_RETOUR: {Law.WMO: "459", Law.JEUGDWET: "461"},
    Kind.BAB: {Law.WMO: "464", Law.JEUGDWET: "466"},
    Kind.BAB_RETOUR: {Law.WMO: "465", Law.JEUGDWET: "467"},
}


def functies(kind: Kind) -> dict[str, Law]:
    """Envelope functie -> law, for every law (``{"WMO464": Law.WMO, "JW466": Law.JEUGDWET}``)."""
    return {kind.functie(law): law for law in Law}


class Mutatie(StrEnum):
    """What a TKB does to the budget with this ToewijzingNummer at the SVB."""

    TOEKENNING = "1"
    WIJZIGING = "2"
    INTREKKING = "3"


class Budgethouder(StrEnum):
    CLIENT = "1"
    VERTEGENWOORDIGER = "2"


class Hulpverlener(StrEnum):
    """Who gives the care paid from the budget (decides the tariff percentage)."""

    PROFESSIONEEL = "1"
    ZELFSTANDIGE = "2"
    SOCIAAL_NETWERK = "3"

    @classmethod
    def from_api(cls, name: str) -> Hulpverlener:
        """``professioneel`` / ``zelfstandige`` / ``sociaal_netwerk`` -> the code."""
        return cls[name.upper()]


#: RetourCodes of the model. 0001/0200/0233 as in iWmo; the P-codes are the project's own.
OK = "0200"
NOT_ASSESSED = "0233"
IN_MESSAGE_ERROR = "0001"
RETOUR_CODES: dict[str, str] = {
    "0001": "bericht afgekeurd om inhoudelijke redenen",
    "0200": "goedgekeurd",
    "0233": "niet beoordeeld",
    "P001": "ToewijzingNummer onbekend, of geen PGB van deze client onder trekkingsrecht",
    "P002": "periode valt buiten de toegekende periode",
    "P003": "bedragen sluiten niet: toegekend - besteed != resterend",
    "P010": "budgethouder onbekend bij de SVB",
    "P011": "zorgovereenkomst ontbreekt of is niet goedgekeurd",
    "P012": "mutatie op een onbekend budget (ToewijzingNummer)",
}
