"""The facts of the iJw/iWmo 3.2 basisschema: simple types, code lists, composite types.

One source of truth for both laws. The two published basisschemas are identical except
for two code lists (product categories and reasons for ending care), which are kept per
law in ``_PER_LAW``. Read by :mod:`schemas.build_istandaard`, which renders the XSDs.
The facts (names, facets, code values, cardinalities) come from the published iJw 3.2 and
iWmo 3.2 basisschema (Zorginstituut Nederland); documentation texts are not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from connectors.istandaard.law import Law

Codes: TypeAlias = tuple[str, ...]
Occurs: TypeAlias = Literal["1", "?", "+", "*"]


@dataclass(frozen=True, slots=True)
class Simple:
    """An ``xs:restriction`` of ``base`` (an XSD built-in or a basisschema ``LDT_`` type).

    ``codes`` is either one code list or a code list per law.
    """

    base: str
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min_inclusive: int | None = None
    max_inclusive: int | None = None
    codes: Codes | dict[Law, Codes] = field(default=())

    def codes_for(self, law: Law) -> Codes:
        return self.codes[law] if isinstance(self.codes, dict) else self.codes


@dataclass(frozen=True, slots=True)
class Field:
    """One element in a sequence: name, type (a type name or an inline restriction), occurrence.

    ``only`` restricts the element to one law (for the few message elements that exist in iJw only).
    """

    name: str
    type: str | Simple
    occurs: Occurs = "1"
    only: Law | None = None


Fields: TypeAlias = tuple[Field, ...]


def f(name: str, type_: str | Simple, occurs: Occurs = "1", only: Law | None = None) -> Field:
    """Short constructor so the tables below read like the message definitions."""
    return Field(name, type_, occurs, only)


def _codes(values: str) -> Codes:
    return tuple(values.split())


# Code lists that differ between iJw (Jeugdwet) and iWmo (Wmo 2015).
_PER_LAW: dict[str, dict[Law, Codes]] = {
    "LDT_ProductCategorie": {
        Law.JEUGDWET: _codes("31 32 33 34 35 36 37 38 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55"),
        Law.WMO: _codes("01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18"),
    },
    "LDT_RedenBeeindiging": {
        Law.JEUGDWET: _codes("02 20 31 32 33 34 35 36 37 38 39"),
        Law.WMO: _codes("02 19 20 21 22 23 31 36 37 38 39"),
    },
}

SIMPLE_TYPES: dict[str, Simple] = {
    "LDT_AanduidingWoonadres": Simple("string", max_length=2, codes=_codes("AB BY TO WW")),
    "LDT_AdresSoort": Simple("string", max_length=2, codes=_codes("01 02 03 04")),
    "LDT_AgbCode": Simple("string", min_length=1, max_length=8, pattern=r"[0-9]{8}"),
    "LDT_Bedrag": Simple("integer", min_inclusive=0, max_inclusive=99999999),
    "LDT_BerichtCode": Simple("string", min_length=1, max_length=3),
    "LDT_BerichtSubversie": Simple("integer", min_inclusive=0, max_inclusive=99),
    "LDT_BerichtVersie": Simple("integer", min_inclusive=0, max_inclusive=99),
    "LDT_Budget": Simple("integer", min_inclusive=0, max_inclusive=99999999),
    "LDT_BurgerServicenummer": Simple("string", min_length=1, max_length=9, pattern=r"[0-9]{9}"),
    "LDT_Commentaar": Simple("string", min_length=1, pattern=r"([.\s]*\S+[.\s]*)+"),
    "LDT_Communicatievorm": Simple("string", max_length=1, codes=_codes("1 2 3")),
    "LDT_Datum": Simple("date", pattern=r"[^:Z]*"),
    "LDT_DatumGebruik": Simple("string", max_length=1, codes=_codes("1 2 3")),
    "LDT_DebetCredit": Simple("string", max_length=1, codes=_codes("C D")),
    "LDT_Eenheid": Simple("string", max_length=2, codes=_codes("01 04 14 16 82 83 84")),
    "LDT_Emailadres": Simple("string", min_length=1, max_length=80, pattern=r".*[^\s].*"),
    "LDT_Frequentie": Simple("string", max_length=1, codes=_codes("1 2 4 6")),
    "LDT_Gemeente": Simple("string", min_length=1, pattern=r"[0-9]{4}"),
    "LDT_Geslacht": Simple("string", max_length=1, codes=_codes("0 1 2")),
    "LDT_Huisletter": Simple("string", min_length=1, max_length=1, pattern=r".*[^\s].*"),
    "LDT_Huisnummer": Simple("integer", min_inclusive=0, max_inclusive=99999),
    "LDT_HuisnummerToevoeging": Simple("string", min_length=1, max_length=4, pattern=r".*[^\s].*"),
    "LDT_IdentificatieBericht": Simple("string", min_length=1, max_length=12, pattern=r".*[^\s].*"),
    "LDT_IdentificatieDeclaratie": Simple("string", min_length=1, max_length=12),
    "LDT_JaNee": Simple("string", max_length=1, codes=_codes("1 2")),
    "LDT_JuridischeStatus": Simple("string", max_length=2, codes=_codes("01 02 03 04 05 11 12")),
    "LDT_LandCode": Simple(
        "string",
        max_length=2,
        codes=_codes(
            "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
            "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
            "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
            "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
            "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
            "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
            "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
            "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
            "VN VU WF WS YE YT ZA ZM ZW"
        ),
    ),
    "LDT_Landnummer": Simple("string", min_length=1, max_length=4, pattern=r".*[^\s].*"),
    "LDT_Naam": Simple("string", min_length=1, max_length=200, pattern=r".*[^\s].*"),
    "LDT_NaamGebruik": Simple("string", max_length=1, codes=_codes("1 2 3 4 5 6")),
    "LDT_NaamVerwijzer": Simple("string", min_length=1, max_length=64, pattern=r".*[^\s].*"),
    "LDT_Nummer": Simple("integer", min_inclusive=0, max_inclusive=999999999),
    "LDT_Organisatienaam": Simple("string", min_length=1, max_length=35, pattern=r".*[^\s].*"),
    "LDT_Persoonsid": Simple("string", min_length=1, max_length=20, pattern=r".*[^\s].*"),
    "LDT_Plaatsnaam": Simple("string", min_length=1, max_length=80, pattern=r".*[^\s].*"),
    "LDT_Postcode": Simple("string", min_length=1, max_length=8, pattern=r".*[^\s].*"),
    "LDT_ProductCategorie": Simple("string", max_length=2, codes=_PER_LAW["LDT_ProductCategorie"]),
    "LDT_ProductCode": Simple("string", min_length=1, max_length=5, pattern=r".*[^\s].*"),
    "LDT_RedenAfwijzingVerzoek": Simple("string", max_length=2, codes=_codes("1 2 3 4 5 6 7 8 9")),
    "LDT_RedenBeeindiging": Simple("string", max_length=2, codes=_PER_LAW["LDT_RedenBeeindiging"]),
    "LDT_RedenVerzoek": Simple("string", max_length=1, codes=_codes("1 2")),
    "LDT_RedenWijziging": Simple(
        "string", max_length=2, codes=_codes("01 02 03 04 05 06 07 08 09 10 11 12 13 14")
    ),
    "LDT_Referentie": Simple("string", min_length=1, max_length=36, pattern=r".*[^\s].*"),
    "LDT_ReferentieNummer": Simple("string", min_length=1, max_length=20),
    "LDT_RelatieVolgorde": Simple("integer", min_inclusive=0, max_inclusive=99),
    "LDT_RetourCode": Simple(
        "string",
        max_length=4,
        codes=_codes(
            "0001 0200 0233 0611 8001 8017 8021 8187 8214 8848 9019 9056 9063 9069 9071 9074 9307 9308 "
            "9319 9321 9322 9326 9332 9333 9338 9339 9340 9341 9346 9347 9349 9350 9351 9355 9357 9359 "
            "9360 9361 9365 9366 9367 9369 9373 9374 9375 9379 9384 9385 9387 9388 9389 9390 9411 9412 "
            "9413 9414 9415 S300 S329"
        ),
    ),
    "LDT_SoortRelatie": Simple(
        "string",
        max_length=2,
        codes=_codes("03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25"),
    ),
    "LDT_StatusAanlevering": Simple("string", max_length=1, codes=_codes("1 2 3 9")),
    "LDT_Straatnaam": Simple("string", min_length=1, max_length=24, pattern=r".*[^\s].*"),
    "LDT_Taal": Simple("string", min_length=1, max_length=25, pattern=r".*[^\s].*"),
    "LDT_Telefoonnummer": Simple("string", min_length=1, max_length=15, pattern=r"[0-9]*"),
    "LDT_Tijd": Simple("time", pattern=r"[^Z+-]+"),
    "LDT_TotaalBedrag": Simple("integer", min_inclusive=0, max_inclusive=999999999999),
    "LDT_TypeVerwijzer": Simple("string", max_length=2, codes=_codes("01 02 03 04 05 06 08")),
    "LDT_Versie": Simple(
        "string", min_length=1, pattern=r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    ),
    "LDT_VerzoekAntwoord": Simple("string", max_length=1, codes=_codes("1 2")),
    "LDT_Volume": Simple("integer", min_inclusive=0, max_inclusive=99999999),
    "LDT_Voorletters": Simple("string", min_length=1, max_length=6, pattern=r"([a-zA-ZÀ-ỳ])+"),
    "LDT_Voorvoegsel": Simple("string", min_length=1, max_length=10, pattern=r".*[^\s].*"),
    "LDT_WettelijkeVertegenwoordiging": Simple("string", max_length=2, codes=_codes("06 07 08 09 10")),
}
COMPLEX_TYPES: dict[str, Fields] = {
    "CDT_Achternaam": (
        f("Achternaam", "LDT_Naam"),
        f("Voorvoegsel", "LDT_Voorvoegsel", "?"),
    ),
    "CDT_Adres": (
        f("Huis", "CDT_Huis", "?"),
        f("Postcode", "LDT_Postcode", "?"),
        f("Straatnaam", "LDT_Straatnaam", "?"),
        f("Plaatsnaam", "LDT_Plaatsnaam", "?"),
        f("LandCode", "LDT_LandCode", "?"),
    ),
    "CDT_BedragMetDC": (
        f("Bedrag", "LDT_Bedrag"),
        f("DebetCredit", "LDT_DebetCredit"),
    ),
    "CDT_BerichtIdentificatie": (
        f("Identificatie", "LDT_IdentificatieBericht"),
        f("Dagtekening", "LDT_Datum"),
    ),
    "CDT_Communicatie": (
        f("Vorm", "LDT_Communicatievorm"),
        f("Taal", "LDT_Taal", "?"),
    ),
    "CDT_Geboortedatum": (
        f("Datum", "LDT_Datum"),
        f("DatumGebruik", "LDT_DatumGebruik", "?"),
    ),
    "CDT_GeslotenPeriode": (
        f("Begindatum", "LDT_Datum"),
        f("Einddatum", "LDT_Datum"),
    ),
    "CDT_Huis": (
        f("Huisnummer", "LDT_Huisnummer"),
        f("Huisletter", "LDT_Huisletter", "?"),
        f("HuisnummerToevoeging", "LDT_HuisnummerToevoeging", "?"),
        f("AanduidingWoonadres", "LDT_AanduidingWoonadres", "?"),
    ),
    "CDT_Omvang": (
        f("Volume", "LDT_Volume"),
        f("Eenheid", "LDT_Eenheid"),
        f("Frequentie", "LDT_Frequentie"),
    ),
    "CDT_OpenPeriode": (
        f("Begindatum", "LDT_Datum", "?"),
        f("Einddatum", "LDT_Datum", "?"),
    ),
    "CDT_Product": (
        f("Categorie", "LDT_ProductCategorie"),
        f("Code", "LDT_ProductCode", "?"),
    ),
    "CDT_Referentie": (
        f("ReferentieNummer", "LDT_ReferentieNummer"),
        f("VorigReferentieNummer", "LDT_ReferentieNummer", "?"),
    ),
    "CDT_Telefoon": (
        f("Telefoonnummer", "LDT_Telefoonnummer"),
        f("Landnummer", "LDT_Landnummer"),
    ),
    "CDT_Telefoonnummers": (
        f("Telefoon01", "CDT_Telefoon"),
        f("Telefoon02", "CDT_Telefoon", "?"),
    ),
    "CDT_TotaalBedragMetDC": (
        f("TotaalBedrag", "LDT_TotaalBedrag"),
        f("DebetCredit", "LDT_DebetCredit"),
    ),
    "CDT_VerkorteNaam": (
        f("Geslachtsnaam", "CDT_Achternaam"),
        f("Voornamen", "LDT_Naam", "?"),
        f("Voorletters", "LDT_Voorletters", "?"),
    ),
    "CDT_Verwijzer": (
        f("Type", "LDT_TypeVerwijzer"),
        f("Naam", "LDT_NaamVerwijzer", "?"),
        f("ZorgverlenerCode", "LDT_AgbCode", "?"),
    ),
    "CDT_VolledigeNaam": (
        f("Geslachtsnaam", "CDT_Achternaam"),
        f("Partnernaam", "CDT_Achternaam", "?"),
        f("Voornamen", "LDT_Naam", "?"),
        f("Voorletters", "LDT_Voorletters", "?"),
        f("NaamGebruik", "LDT_NaamGebruik"),
    ),
    "CDT_XsdVersie": (
        f("BasisschemaXsdVersie", "LDT_Versie"),
        f("BerichtXsdVersie", "LDT_Versie"),
    ),
}
