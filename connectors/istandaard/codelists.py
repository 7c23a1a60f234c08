"""Code lists of iJw/iWmo 3.2 that the gateway checks before it renders a message.

The XSD would reject a bad code too, but only after the back-office's request became
XML; checking here lets the API name the field and the rule. Values are those of the
3.2 basisschema enumerations and the named code tables.
"""

from __future__ import annotations

from connectors.istandaard.law import Law

#: LDT_ProductCategorie: iJw 31-38 (legacy) and 40-55; iWmo 01-18.
PRODUCT_CATEGORIES: dict[Law, frozenset[str]] = {
    Law.JEUGDWET: frozenset([*(str(n) for n in range(31, 39)), *(str(n) for n in range(40, 56))]),
    Law.WMO: frozenset(f"{n:02d}" for n in range(1, 19)),
}

#: WJ756 Eenheid.
EENHEDEN: dict[str, str] = {
    "01": "minuut",
    "04": "uur",
    "14": "etmaal",
    "16": "dagdeel (4 uur)",
    "82": "stuks (inspanning)",
    "83": "euro's",
    "84": "stuks (output)",
}

#: WJ757 Frequentie.
FREQUENTIES: dict[str, str] = {
    "1": "per dag",
    "2": "per week",
    "4": "per maand",
    "6": "totaal binnen geldigheidsduur toewijzing",
}

#: Frequentie 6: the only one under which the volume of a running toewijzing may change.
FREQUENTIE_TOTAAL = "6"
#: Frequentie 2: needs an Einddatum.
FREQUENTIE_PER_WEEK = "2"

#: COD046 Geslacht.
GESLACHTEN: dict[str, str] = {"0": "onbekend", "1": "mannelijk", "2": "vrouwelijk"}

#: COD757 AdresSoort.
ADRES_SOORTEN: dict[str, str] = {
    "01": "BRP-adres",
    "02": "correspondentieadres",
    "03": "verblijfadres",
    "04": "tijdelijk adres",
}

#: COD327 Verwijzer (brief §3).
VERWIJZER_TYPES: dict[str, str] = {
    "01": "gemeente",
    "02": "huisarts",
    "03": "jeugdarts",
    "04": "gecertificeerde instelling",
    "05": "medisch specialist",
    "06": "zelfverwijzer / geen verwijzer",
    "08": "rechter, Officier van Justitie of JJI",
}

#: LDT_ProductCode: at most 5 characters.
PRODUCT_CODE_MAX_LENGTH = 5
#: LDT_Volume and LDT_Budget upper bounds.
MAX_VOLUME = 99_999_999
MAX_BUDGET_EUROCENT = 99_999_999
#: LDT_Nummer upper bound (ToewijzingNummer).
MAX_TOEWIJZINGNUMMER = 999_999_999
