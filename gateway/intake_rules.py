"""The rules a beschikking must meet before anything is stored.

Each broken rule becomes a :class:`FieldError` naming the JSON field and a stable rule
id, so the back-office can act on it. All rules are checked and reported together.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from connectors.istandaard import Law
from connectors.istandaard.codelists import (
    EENHEDEN,
    FREQUENTIE_PER_WEEK,
    FREQUENTIES,
    GESLACHTEN,
    MAX_BUDGET_EUROCENT,
    MAX_VOLUME,
    PRODUCT_CATEGORIES,
    PRODUCT_CODE_MAX_LENGTH,
    VERWIJZER_TYPES,
)
from gateway.api.beschikking_models import BeschikkingIn, Leveringsvorm, Periode, Product
from gateway.api.problems import FieldError
from gateway.bsn import passes_elfproef


def product_period(beschikking: BeschikkingIn, product: Product) -> Periode:
    return product.periode or beschikking.periode


def check_beschikking(b: BeschikkingIn) -> list[FieldError]:
    errors: list[FieldError] = []
    client = b.client
    if not passes_elfproef(client.bsn):
        errors.append(FieldError("client.bsn", "bsn-elfproef", "the BSN does not pass the 11-proef"))
    if client.geslacht not in GESLACHTEN:
        errors.append(
            FieldError(
                "client.geslacht", "code-list-COD046", f"geslacht must be one of {', '.join(GESLACHTEN)}"
            )
        )
    if client.adres is None and client.verblijfadres is None:
        errors.append(
            FieldError(
                "client.adres",
                "contact-required",
                "an adres or verblijfadres is required (the toewijzing carries Contactgegevens)",
            )
        )
    if b.verwijzer is not None and b.verwijzer.type not in VERWIJZER_TYPES:
        errors.append(
            FieldError(
                "verwijzer.type",
                "code-list-COD327",
                f"verwijzer type must be one of {', '.join(VERWIJZER_TYPES)}",
            )
        )
    errors.extend(_check_period("periode", b.periode))
    for index, product in enumerate(b.producten):
        errors.extend(_check_product(b, index, product))
    errors.extend(_check_no_overlap_within(b))
    return errors


def _check_period(path: str, periode: Periode) -> list[FieldError]:
    if periode.einddatum is not None and periode.einddatum < periode.begindatum:
        return [
            FieldError(f"{path}.einddatum", "period-end-before-start", "einddatum lies before begindatum")
        ]
    return []


def _check_product(b: BeschikkingIn, index: int, product: Product) -> Iterable[FieldError]:
    path = f"producten[{index}]"
    law = b.wet
    if product.categorie not in PRODUCT_CATEGORIES[law]:
        yield FieldError(
            f"{path}.categorie",
            "unknown-product-category",
            f"categorie '{product.categorie}' is not a {law.value} product category",
        )
    if product.code is not None and not 1 <= len(product.code) <= PRODUCT_CODE_MAX_LENGTH:
        yield FieldError(
            f"{path}.code",
            "product-code-length",
            f"a productcode has 1 to {PRODUCT_CODE_MAX_LENGTH} characters",
        )
    if product.periode is not None:
        yield from _check_period(f"{path}.periode", product.periode)
    periode = product_period(b, product)
    if product.omvang is not None and product.budget is not None:
        yield FieldError(path, "omvang-xor-budget", "give either omvang or budget, not both")
    if product.code is not None and product.omvang is None and product.budget is None:
        yield FieldError(
            f"{path}.omvang", "omvang-required", "a specific product (with code) needs an omvang or a budget"
        )
    if product.omvang is not None:
        omvang = product.omvang
        if omvang.eenheid not in EENHEDEN:
            yield FieldError(
                f"{path}.omvang.eenheid", "code-list-WJ756", f"eenheid must be one of {', '.join(EENHEDEN)}"
            )
        if omvang.frequentie not in FREQUENTIES:
            yield FieldError(
                f"{path}.omvang.frequentie",
                "code-list-WJ757",
                f"frequentie must be one of {', '.join(FREQUENTIES)}",
            )
        if omvang.volume > MAX_VOLUME:
            yield FieldError(f"{path}.omvang.volume", "volume-range", f"volume is at most {MAX_VOLUME}")
        if omvang.frequentie == FREQUENTIE_PER_WEEK and periode.einddatum is None:
            yield FieldError(
                f"{path}.periode.einddatum", "einddatum-required", "an omvang per week needs an einddatum"
            )
    if product.budget is not None:
        if product.budget > MAX_BUDGET_EUROCENT:
            yield FieldError(
                f"{path}.budget", "budget-range", f"budget is at most {MAX_BUDGET_EUROCENT} eurocent"
            )
        if periode.einddatum is None:
            yield FieldError(f"{path}.periode.einddatum", "einddatum-required", "a budget needs an einddatum")
    if product.leveringsvorm is Leveringsvorm.ZIN and product.aanbieder_agb is None:
        yield FieldError(
            f"{path}.aanbieder_agb",
            "aanbieder-required-for-zin",
            "zorg in natura needs the aanbieder's AGB code",
        )


def overlaps(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    """Whether two periods (end inclusive, None = open) share at least one day."""
    return (a_end is None or b_start <= a_end) and (b_end is None or a_start <= b_end)


def _check_no_overlap_within(b: BeschikkingIn) -> Iterable[FieldError]:
    """TR302: no two toewijzingen of the same product may overlap in time."""
    for i, first in enumerate(b.producten):
        for j in range(i + 1, len(b.producten)):
            second = b.producten[j]
            if (first.categorie, first.code) != (second.categorie, second.code):
                continue
            p1, p2 = product_period(b, first), product_period(b, second)
            if overlaps(p1.begindatum, p1.einddatum, p2.begindatum, p2.einddatum):
                yield FieldError(
                    f"producten[{j}]",
                    "overlapping-toewijzing-TR302",
                    f"overlaps producten[{i}]: the same product may not be assigned twice "
                    "for the same period",
                )


__all__ = ["Law", "check_beschikking", "overlaps", "product_period"]
