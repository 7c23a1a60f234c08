"""Legacy CIZ/AWBZ and Bureau Jeugdzorg indications as beschikkingen (overgangsrecht 2015).

On 1 January 2015 the AWBZ functions begeleiding, persoonlijke verzorging and kortdurend
verblijf moved to the Wmo 2015, and youth care (Wet op de jeugdzorg, AWBZ-jeugd) to the
Jeugdwet. Clients with a running indication kept their rights for a transition period
(seed 001, "Overgangsrecht Jeugdwet en Wmo 2015"; seed 000 on beschermd wonen). An
indication line (``gateway import --indicaties FILE``) becomes a beschikking for the
remaining period by these rules:

1. **Transition date** 2015-01-01: the toewijzing starts on the later of the
   indication's ingangsdatum and that date. An indication that ended before it gives no
   rights: rejected (``indicatie-verlopen``).
2. **One year**: rights are kept for one year unless the indication ends earlier:
   einddatum = the earlier of the indication's einddatum and 2015-12-31.
3. **Beschermd wonen** (GGZ-C, functie ``BW``): up to five years, until 2019-12-31 at
   the latest ("tot 2020 of zoveel eerder als hun indicatie afloopt").
4. **Short CIZ indications**: applied for between 2014-07-01 and 2014-09-01: at most
   8 months from their ingangsdatum; between 2014-09-01 and 2014-12-31: at most 6 months.
5. **Law**: a Bureau Jeugdzorg indication (``bron`` ``BJZ``), or a CIZ one for a client
   younger than 18 on 2015-01-01 (AWBZ-jeugd), goes to the Jeugdwet; any other CIZ
   indication to the Wmo. For youth the aanbieder stays the same (the Jeugdwet's
   transition right: "recht op dezelfde aanbieder"), so ``aanbieder_agb`` is required.
6. **Function → product category** (aspecifiek: no product code, the category only):
   Wmo: BG (begeleiding individueel) 02, PV (persoonlijke verzorging) 03,
   KV (kortdurend verblijf) 04, BGG (begeleiding groep / dagbesteding) 07,
   BW (beschermd wonen) 15. Jeugdwet: BG, PV and BGG 45 (ambulante jeugdhulp); KV and BW
   for youth have no mapping here and are rejected (``functie-zonder-mapping``): the
   gemeente decides those as new beschikkingen.
7. **Nothing accepted twice**: the beschikkingnummer is ``IND-`` plus the indicatienummer,
   so re-importing a file reports every indication already taken over as ``duplicate``.
8. **Already past**: a remaining period that ended before today (the import runs after
   the transition rights ran out) is rejected (``overgangsrecht-verstreken``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from connectors.istandaard import Law
from gateway.api.beschikking_models import BeschikkingIn, Client, Omvang
from gateway.api.problems import FieldError, validation_problem

OVERGANGSDATUM = date(2015, 1, 1)
EINDE_OVERGANGSJAAR = date(2015, 12, 31)
EINDE_BESCHERMD_WONEN = date(2019, 12, 31)
#: (applied from, applied until (exclusive), the indication's maximum months)
KORTE_INDICATIES = ((date(2014, 7, 1), date(2014, 9, 1), 8), (date(2014, 9, 1), date(2015, 1, 1), 6))

WMO_CATEGORIE = {"BG": "02", "PV": "03", "KV": "04", "BGG": "07", "BW": "15"}
JEUGD_CATEGORIE = {"BG": "45", "PV": "45", "BGG": "45"}


class Indicatie(BaseModel):
    """One legacy indication, as exported from the CIZ or Bureau Jeugdzorg registration."""

    model_config = ConfigDict(extra="forbid")

    indicatienummer: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,46}$")]
    bron: Literal["CIZ", "BJZ"]
    client: Client
    functie: Literal["BG", "BGG", "PV", "KV", "BW"]
    klasse: int | None = Field(None, ge=1, le=9, description="The AWBZ klasse (kept in the commentaar).")
    ingangsdatum: date
    einddatum: date | None = None
    aanvraagdatum: date | None = None
    aanbieder_agb: Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
    omvang: Omvang


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def remaining_period(indicatie: Indicatie) -> tuple[date, date]:
    """The period the transition right covers (rules 1-4); raises the validation problem."""
    einde = indicatie.einddatum
    if indicatie.aanvraagdatum is not None:
        for van, tot, maanden in KORTE_INDICATIES:
            if van <= indicatie.aanvraagdatum < tot:
                kort = _add_months(indicatie.ingangsdatum, maanden) - timedelta(days=1)
                einde = kort if einde is None else min(einde, kort)
    if einde is not None and einde < OVERGANGSDATUM:
        raise validation_problem(
            [FieldError("einddatum", "indicatie-verlopen", "the indication ended before 2015-01-01")]
        )
    limit = EINDE_BESCHERMD_WONEN if indicatie.functie == "BW" else EINDE_OVERGANGSJAAR
    return max(indicatie.ingangsdatum, OVERGANGSDATUM), limit if einde is None else min(einde, limit)


def to_beschikking(data: Any, today: date) -> BeschikkingIn:
    """Map one parsed indication line to the beschikking that continues it (rules 5-8)."""
    indicatie = Indicatie.model_validate(data)
    begin, einde = remaining_period(indicatie)
    jeugd = indicatie.bron == "BJZ" or _age_on(indicatie.client.geboortedatum, OVERGANGSDATUM) < 18
    categorie = (JEUGD_CATEGORIE if jeugd else WMO_CATEGORIE).get(indicatie.functie)
    if categorie is None:
        raise validation_problem(
            [
                FieldError(
                    "functie",
                    "functie-zonder-mapping",
                    f"no youth-care category for AWBZ function {indicatie.functie}; decide it anew",
                )
            ]
        )
    if einde < today:
        raise validation_problem(
            [
                FieldError(
                    "einddatum",
                    "overgangsrecht-verstreken",
                    f"the transition right ended on {einde.isoformat()}, before today",
                )
            ]
        )
    klasse = f", klasse {indicatie.klasse}" if indicatie.klasse is not None else ""
    return BeschikkingIn.model_validate(
        {
            "beschikkingnummer": f"IND-{indicatie.indicatienummer}",
            "wet": (Law.JEUGDWET if jeugd else Law.WMO).value,
            "client": indicatie.client.model_dump(mode="json", exclude_none=True),
            "periode": {"begindatum": begin.isoformat(), "einddatum": einde.isoformat()},
            "producten": [
                {
                    "categorie": categorie,
                    "aanbieder_agb": indicatie.aanbieder_agb,
                    "omvang": indicatie.omvang.model_dump(mode="json", exclude_none=True),
                }
            ],
            "commentaar": (
                f"Overgangsrecht 2015: {indicatie.bron}-indicatie {indicatie.indicatienummer}, "
                f"functie {indicatie.functie}{klasse}"
            ),
        }
    )
