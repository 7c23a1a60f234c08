"""``render_bv03`` from a template writes the builder's bytes; other values go to the builder."""

from __future__ import annotations

from datetime import datetime

import pytest

from connectors.ggk import Systeem, new_referentienummer, render_bv03
from connectors.ggk.soap import _BV03_TEMPLATES, _build_bv03

GEMEENTE = Systeem("0637", "Gateway")
AANBIEDER = Systeem("99990001", "MockAanbieder", administratie="adm", gebruiker="u1")
AT = datetime(2026, 11, 2, 9, 15, 30)


@pytest.mark.parametrize(
    ("zender", "ontvanger", "referentienummer", "cross_ref"),
    [
        (GEMEENTE, AANBIEDER, new_referentienummer(), new_referentienummer()),
        (AANBIEDER, GEMEENTE, "ref.1-A_b", "x"),
        (GEMEENTE, Systeem("99990002"), new_referentienummer(), "c" * 40),
    ],
)
def test_a_template_writes_the_builders_bytes(
    zender: Systeem, ontvanger: Systeem, referentienummer: str, cross_ref: str
) -> None:
    assert _BV03_TEMPLATES.render(zender, ontvanger, referentienummer, cross_ref, AT) is not None
    expected = _build_bv03(zender, ontvanger, referentienummer, cross_ref, AT)
    assert render_bv03(zender, ontvanger, referentienummer, cross_ref, tijdstip=AT) == expected


@pytest.mark.parametrize("cross_ref", ["", "a&b<c", "c" * 41, "met spatie", "é"])
def test_values_a_template_does_not_take_go_to_the_builder(cross_ref: str) -> None:
    ref = new_referentienummer()
    assert _BV03_TEMPLATES.render(GEMEENTE, AANBIEDER, ref, cross_ref, AT) is None
    try:
        expected: bytes | str = _build_bv03(GEMEENTE, AANBIEDER, ref, cross_ref, AT)
    except ValueError as exc:
        expected = str(exc)
    try:
        got: bytes | str = render_bv03(GEMEENTE, AANBIEDER, ref, cross_ref, tijdstip=AT)
    except ValueError as exc:
        got = str(exc)
    assert got == expected


def test_without_a_tijdstip_it_is_now() -> None:
    before = datetime.now().replace(microsecond=0)
    body = render_bv03(GEMEENTE, AANBIEDER, new_referentienummer(), new_referentienummer())
    stamp = body.split(b"tijdstipBericht>")[1][:14].decode()
    assert before <= datetime.strptime(stamp, "%Y%m%d%H%M%S") <= datetime.now()
