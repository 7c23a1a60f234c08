"""The gemeente's PGB rules (``settings.pgb``), applied to a beschikking's products.

Pure over the request, the policy and the client's existing toewijzingen: no database,
no messages. Each broken rule is a :class:`FieldError` naming the product field and a
stable rule id; what the rules compute for an accepted PGB (percentage, ZIN-based
maximum, the budget the SVB is told) comes back as a :class:`PgbPlan`.

Rules (ids in the problem+json):
- ``pgb-excluded-measure``: no PGB for a minor (younger than ``meerderjarig_vanaf`` on
  the PGB's begindatum) with an OTS, voogdij, jeugdreclassering or closed youth care
  overlapping the PGB period;
- ``pgb-above-zin-cost``: the budget at most volume x periods x ZIN tariff x percentage
  (``pgb-no-zin-tariff`` / ``pgb-zin-tariff-eenheid`` when that cannot be computed);
  a PGB given as an omvang gets exactly that maximum as its budget;
- ``pgb-hulpverlener-required``: the percentage depends on the kind of carer;
- ``pgb-and-zin-same-product-OP043``: no PGB and ZIN of one product at the same time,
  within the request and against the client's existing toewijzingen;
- ``pgb-no-aanbieder``: a PGB is not paid to an aanbieder (nor an intermediary);
- ``pgb-einddatum-required`` / ``pgb-budget-required``: the SVB needs a closed period
  and an amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import floor

from connectors.istandaard import Law
from connectors.istandaard.codelists import MAX_BUDGET_EUROCENT
from gateway.api.beschikking_models import BeschikkingIn, Leveringsvorm, Product
from gateway.api.problems import FieldError
from gateway.intake_rules import overlaps, product_period
from gateway.settings import PgbPolicy, ZinTarief
from gateway.store.tables import Toewijzing

PGB = Leveringsvorm.PGB.value
DELETED = "13"
#: Periods per frequentie (WJ757) in a period of ``days`` days.
_MONTH_DAYS = Fraction(36525, 1200)  # 365.25 / 12


@dataclass(frozen=True, slots=True)
class Plafond:
    percentage: int
    maximum: int


@dataclass(frozen=True, slots=True)
class PgbPlan:
    """What intake decided for one PGB product (stored in ``pgb_budgetten``)."""

    hulpverlener: str | None
    eenmalig: bool
    percentage: int | None
    maximum: int | None
    budget: int


def age_on(geboortedatum: date, day: date) -> int:
    years = day.year - geboortedatum.year
    return years - ((day.month, day.day) < (geboortedatum.month, geboortedatum.day))


def periods(frequentie: str, begin: date, eind: date) -> Fraction:
    """How many times the omvang's frequentie fits in [begin, eind] (inclusive)."""
    days = (eind - begin).days + 1
    if frequentie == "1":
        return Fraction(days)
    if frequentie == "2":
        return Fraction(days, 7)
    if frequentie == "4":
        return Fraction(days) / _MONTH_DAYS
    return Fraction(1)  # 6: totaal binnen de geldigheidsduur


def find_tarief(policy: PgbPolicy, law: Law, categorie: str, code: str | None) -> ZinTarief | None:
    """The product's own tariff, else its category's general one."""
    general = None
    for tarief in policy.zin_tarieven:
        if tarief.wet != law.value or tarief.categorie != categorie:
            continue
        if tarief.productcode is not None and tarief.productcode == code:
            return tarief
        if tarief.productcode is None:
            general = general or tarief
    return general


def percentage(policy: PgbPolicy, hulpverlener: str, categorie: str) -> int:
    pct = policy.percentages.get(hulpverlener, 100)  # type: ignore[call-overload]
    cap = policy.categorie_percentages.get(categorie)
    return min(int(pct), cap) if cap is not None else int(pct)


def plafond(tarief: ZinTarief, pct: int, *, volume: int, frequentie: str, begin: date, eind: date) -> Plafond:
    """volume x periods x tariff x percentage, rounded down to the eurocent."""
    amount = Fraction(volume) * periods(frequentie, begin, eind) * tarief.tarief * Fraction(pct, 100)
    return Plafond(pct, floor(amount))


@dataclass(frozen=True, slots=True)
class Omvang:
    volume: int
    eenheid: str
    frequentie: str


def assess(
    policy: PgbPolicy,
    law: Law,
    path: str,
    *,
    categorie: str,
    code: str | None,
    hulpverlener: str | None,
    eenmalig: bool,
    omvang: Omvang | None,
    budget: int | None,
    begin: date,
    eind: date | None,
) -> tuple[list[FieldError], PgbPlan | None]:
    """The amount rules for one PGB (at intake and after a change)."""
    errors: list[FieldError] = []
    if eind is None:
        errors.append(
            FieldError(f"{path}.periode.einddatum", "pgb-einddatum-required", "a PGB needs an einddatum")
        )
    if omvang is None and budget is None:
        errors.append(FieldError(path, "pgb-budget-required", "a PGB needs a budget or an omvang"))
    if hulpverlener is None and not eenmalig:
        errors.append(
            FieldError(
                f"{path}.hulpverlener",
                "pgb-hulpverlener-required",
                "a PGB needs the kind of carer (professioneel, zelfstandige, sociaal_netwerk)",
            )
        )
    if errors or eind is None:
        return errors, None
    tarief = find_tarief(policy, law, categorie, code)
    if tarief is None:
        if eenmalig and budget is not None:
            return [], PgbPlan(hulpverlener, True, None, None, budget)
        if policy.tarief_vereist or budget is None:
            return [
                FieldError(
                    f"{path}.categorie",
                    "pgb-no-zin-tariff",
                    f"no ZIN tariff is configured for {law.value} product {categorie} {code or ''}".rstrip()
                    + ": the PGB's maximum cannot be determined",
                )
            ], None
        return [], PgbPlan(hulpverlener, eenmalig, None, None, budget)
    pct = percentage(policy, hulpverlener, categorie) if hulpverlener is not None else 100
    measure = omvang or (
        Omvang(tarief.norm_volume, tarief.eenheid, tarief.norm_frequentie)
        if tarief.norm_volume is not None and tarief.norm_frequentie is not None
        else None
    )
    if measure is None:
        return [
            FieldError(
                f"{path}.omvang",
                "pgb-no-zin-tariff",
                "the ZIN tariff has no norm omvang: give the PGB as an omvang",
            )
        ], None
    if measure.eenheid != tarief.eenheid:
        return [
            FieldError(
                f"{path}.omvang.eenheid",
                "pgb-zin-tariff-eenheid",
                f"the ZIN tariff is per eenheid {tarief.eenheid}, the omvang is in {measure.eenheid}",
            )
        ], None
    ceiling = plafond(
        tarief, pct, volume=measure.volume, frequentie=measure.frequentie, begin=begin, eind=eind
    )
    amount = budget if budget is not None else ceiling.maximum
    if amount > ceiling.maximum:
        return [
            FieldError(
                f"{path}.budget",
                "pgb-above-zin-cost",
                f"the budget exceeds the cost of the cheapest adequate ZIN: at most "
                f"{ceiling.maximum} eurocent ({pct}% of the ZIN tariff for this carer)",
            )
        ], None
    if amount > MAX_BUDGET_EUROCENT:
        return [FieldError(f"{path}.budget", "budget-range", "the PGB's budget is too large")], None
    return [], PgbPlan(hulpverlener, eenmalig, pct, ceiling.maximum, amount)


def check_request(
    policy: PgbPolicy, request: BeschikkingIn, existing: Sequence[Toewijzing]
) -> tuple[list[FieldError], dict[int, PgbPlan]]:
    """All PGB rules for ``request``; plans by product index when there are no errors."""
    errors = list(_op043(request, existing))
    plans: dict[int, PgbPlan] = {}
    law = request.wet
    for index, product in enumerate(request.producten):
        if product.leveringsvorm is not Leveringsvorm.PGB:
            continue
        path = f"producten[{index}]"
        if not policy.enabled:
            errors.append(
                FieldError(
                    f"{path}.leveringsvorm",
                    "pgb-route-unavailable",
                    "this gemeente does not grant PGBs under trekkingsrecht",
                )
            )
            continue
        if product.aanbieder_agb is not None:
            errors.append(
                FieldError(
                    f"{path}.aanbieder_agb",
                    "pgb-no-aanbieder",
                    "a PGB is managed by the budgethouder through the SVB, not paid to an aanbieder",
                )
            )
        errors.extend(_excluded_measure(policy, request, product, path))
        periode = product_period(request, product)
        found, plan = assess(
            policy,
            law,
            path,
            categorie=product.categorie,
            code=product.code,
            hulpverlener=product.hulpverlener,
            eenmalig=product.eenmalig,
            omvang=Omvang(product.omvang.volume, product.omvang.eenheid, product.omvang.frequentie)
            if product.omvang
            else None,
            budget=product.budget,
            begin=periode.begindatum,
            eind=periode.einddatum,
        )
        errors.extend(found)
        if plan is not None:
            plans[index] = plan
    return errors, (plans if not errors else {})


def _excluded_measure(
    policy: PgbPolicy, request: BeschikkingIn, product: Product, path: str
) -> Iterable[FieldError]:
    periode = product_period(request, product)
    client = request.client
    if age_on(client.geboortedatum, periode.begindatum) >= policy.meerderjarig_vanaf:
        return
    for j, maatregel in enumerate(client.maatregelen):
        if maatregel.soort not in policy.uitsluitende_maatregelen:
            continue
        if overlaps(maatregel.begindatum, maatregel.einddatum, periode.begindatum, periode.einddatum):
            yield FieldError(
                f"{path}.leveringsvorm",
                "pgb-excluded-measure",
                f"no PGB for a minor under a measure: client.maatregelen[{j}] ({maatregel.soort}) "
                "overlaps the PGB period",
            )
            return


def _op043(request: BeschikkingIn, existing: Sequence[Toewijzing]) -> Iterable[FieldError]:
    """OP043: a product is delivered either in natura or as a PGB at any one time."""
    flagged: set[int] = set()
    for i, first in enumerate(request.producten):
        p1 = product_period(request, first)
        for j, second in enumerate(request.producten):
            if j <= i or first.leveringsvorm is second.leveringsvorm:
                continue
            if (first.categorie, first.code) != (second.categorie, second.code):
                continue
            p2 = product_period(request, second)
            if overlaps(p1.begindatum, p1.einddatum, p2.begindatum, p2.einddatum):
                pgb_index = i if first.leveringsvorm is Leveringsvorm.PGB else j
                flagged.add(pgb_index)
                yield FieldError(
                    f"producten[{pgb_index}]",
                    "pgb-and-zin-same-product-OP043",
                    f"producten[{i}] and producten[{j}] give the same product as PGB and in natura "
                    "in the same period",
                )
        for row in existing:
            if i in flagged or row.reden_wijziging == DELETED:
                continue
            if row.leveringsvorm == first.leveringsvorm.value:
                continue
            if (row.categorie, row.productcode) != (first.categorie, first.code):
                continue
            if overlaps(row.ingangsdatum, row.einddatum, p1.begindatum, p1.einddatum):
                flagged.add(i)
                yield FieldError(
                    f"producten[{i}]",
                    "pgb-and-zin-same-product-OP043",
                    f"the client already has toewijzing {row.id} of this product as "
                    f"{row.leveringsvorm} in this period",
                )
