"""The PGB ceiling arithmetic and tariff lookup of :mod:`gateway.pgb_policy` (pure)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from connectors.istandaard import Law
from gateway.pgb_policy import age_on, find_tarief, percentage, periods, plafond
from gateway.settings import PgbPolicy, ZinTarief

BEGIN, EIND = date(2026, 12, 1), date(2027, 5, 31)


def test_periods_per_frequentie() -> None:
    assert periods("1", BEGIN, EIND) == 182
    assert periods("2", BEGIN, EIND) == 26
    assert periods("4", date(2027, 1, 1), date(2027, 12, 31)) == Fraction(365 * 1200, 36525)
    assert periods("6", BEGIN, EIND) == 1


def test_a_product_tariff_wins_over_its_category() -> None:
    policy = PgbPolicy(
        zin_tarieven=[
            ZinTarief(wet="wmo", categorie="02", eenheid="04", tarief=4000),
            ZinTarief(wet="wmo", categorie="02", productcode="02B07", eenheid="04", tarief=3500),
            ZinTarief(wet="jeugdwet", categorie="02", eenheid="04", tarief=9999),
        ]
    )
    general = find_tarief(policy, Law.WMO, "02", "02A01")
    specific = find_tarief(policy, Law.WMO, "02", "02B07")
    assert general is not None and specific is not None
    assert (general.tarief, specific.tarief) == (4000, 3500)
    assert find_tarief(policy, Law.WMO, "03", None) is None


def test_percentages_and_the_category_cap() -> None:
    policy = PgbPolicy()
    assert [percentage(policy, h, "02") for h in ("professioneel", "zelfstandige", "sociaal_netwerk")] == [
        100,
        85,
        50,
    ]
    assert percentage(policy, "professioneel", "01") == 85
    assert percentage(PgbPolicy(categorie_percentages={}), "professioneel", "01") == 100


def test_plafond_rounds_down_to_the_eurocent() -> None:
    tarief = ZinTarief(wet="wmo", categorie="02", eenheid="04", tarief=3333)
    ceiling = plafond(tarief, 85, volume=1, frequentie="2", begin=BEGIN, eind=date(2026, 12, 3))
    # 3 days = 3/7 week: 3333 * 3/7 * 0.85 = 1214.19...
    assert (ceiling.maximum, ceiling.percentage) == (1214, 85)


def test_age_on_the_day() -> None:
    assert age_on(date(2008, 12, 1), date(2026, 12, 1)) == 18
    assert age_on(date(2008, 12, 2), date(2026, 12, 1)) == 17
