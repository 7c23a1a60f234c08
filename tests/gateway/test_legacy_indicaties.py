"""Legacy CIZ/BJZ indications taken over under the 2015 transition rules (overgangsrecht)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.api.problems import Problem
from gateway.bulk_import_cli import run_import
from gateway.clock import FrozenClock
from gateway.legacy_indicaties import to_beschikking
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Toewijzing
from tests.conftest import make_settings

BEFORE_TRANSITION = date(2014, 12, 15)


def indicatie(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "indicatienummer": "CIZ-2014-000123",
        "bron": "CIZ",
        "client": {
            "bsn": "999900018",
            "geboortedatum": "1950-06-01",
            "geslacht": "1",
            "naam": {"achternaam": "de Vries", "voorletters": "J"},
            "adres": {
                "straatnaam": "Markt",
                "huisnummer": 2,
                "postcode": "2711AA",
                "plaatsnaam": "Zoetermeer",
            },
        },
        "functie": "BG",
        "klasse": 3,
        "ingangsdatum": "2013-03-01",
        "einddatum": "2017-02-28",
        "aanbieder_agb": "99990002",
        "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
    }
    data.update(overrides)
    return data


def mapped(data: dict[str, Any], today: date = BEFORE_TRANSITION) -> tuple[str, str, str, str]:
    beschikking = to_beschikking(data, today)
    [product] = beschikking.producten
    return (
        beschikking.wet.value,
        product.categorie,
        beschikking.periode.begindatum.isoformat(),
        beschikking.periode.einddatum.isoformat() if beschikking.periode.einddatum else "",
    )


def rule_of(data: dict[str, Any], today: date = BEFORE_TRANSITION) -> str:
    with pytest.raises(Problem) as caught:
        to_beschikking(data, today)
    return caught.value.errors[0].rule


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # Rights kept for one year from 2015-01-01 ...
        ({}, ("wmo", "02", "2015-01-01", "2015-12-31")),
        # ... unless the indication ends earlier.
        ({"einddatum": "2015-04-30"}, ("wmo", "02", "2015-01-01", "2015-04-30")),
        # An open-ended indication is capped the same way.
        ({"einddatum": None}, ("wmo", "02", "2015-01-01", "2015-12-31")),
        # Beschermd wonen (GGZ-C): at most five years, "tot 2020".
        ({"functie": "BW", "einddatum": "2024-01-01"}, ("wmo", "15", "2015-01-01", "2019-12-31")),
        ({"functie": "BW", "einddatum": "2016-06-30"}, ("wmo", "15", "2015-01-01", "2016-06-30")),
        # Applied for in July/August 2014: at most 8 months; from September: at most 6.
        (
            {"aanvraagdatum": "2014-07-15", "ingangsdatum": "2014-08-01", "einddatum": "2019-01-01"},
            ("wmo", "02", "2015-01-01", "2015-03-31"),
        ),
        (
            {"aanvraagdatum": "2014-09-01", "ingangsdatum": "2014-10-01", "einddatum": None},
            ("wmo", "02", "2015-01-01", "2015-03-31"),
        ),
        # Starting after the transition date: from its own start.
        ({"ingangsdatum": "2015-02-01"}, ("wmo", "02", "2015-02-01", "2015-12-31")),
        # The other AWBZ functions.
        ({"functie": "PV"}, ("wmo", "03", "2015-01-01", "2015-12-31")),
        ({"functie": "KV"}, ("wmo", "04", "2015-01-01", "2015-12-31")),
        ({"functie": "BGG"}, ("wmo", "07", "2015-01-01", "2015-12-31")),
        # Youth: Bureau Jeugdzorg, or AWBZ-jeugd (a CIZ client under 18 on 2015-01-01).
        (
            {"bron": "BJZ", "client": {**indicatie()["client"], "geboortedatum": "2005-01-01"}},
            ("jeugdwet", "45", "2015-01-01", "2015-12-31"),
        ),
        (
            {"client": {**indicatie()["client"], "geboortedatum": "1997-01-02"}},
            ("jeugdwet", "45", "2015-01-01", "2015-12-31"),
        ),
        (
            {"client": {**indicatie()["client"], "geboortedatum": "1997-01-01"}},
            ("wmo", "02", "2015-01-01", "2015-12-31"),
        ),
    ],
)
def test_the_transition_rules_decide_law_category_and_period(
    overrides: dict[str, Any], expected: tuple[str, str, str, str]
) -> None:
    assert mapped(indicatie(**overrides)) == expected


def test_the_indicatie_keeps_its_number_and_aanbieder() -> None:
    beschikking = to_beschikking(indicatie(), BEFORE_TRANSITION)
    assert beschikking.beschikkingnummer == "IND-CIZ-2014-000123"
    assert beschikking.producten[0].aanbieder_agb == "99990002"
    assert beschikking.producten[0].code is None  # aspecifiek: the category only
    assert beschikking.commentaar is not None and "functie BG, klasse 3" in beschikking.commentaar


@pytest.mark.parametrize(
    ("overrides", "today", "rule"),
    [
        ({"einddatum": "2014-12-31"}, BEFORE_TRANSITION, "indicatie-verlopen"),
        ({"bron": "BJZ", "functie": "KV"}, BEFORE_TRANSITION, "functie-zonder-mapping"),
        ({}, date(2026, 11, 29), "overgangsrecht-verstreken"),
    ],
)
def test_indications_without_a_transition_right_are_refused(
    overrides: dict[str, Any], today: date, rule: str
) -> None:
    assert rule_of(indicatie(**overrides), today) == rule


@pytest.fixture
def runtime_in_2014(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    clock = FrozenClock(datetime(2014, 12, 15, 10, 0, tzinfo=UTC))
    runtime = Runtime.create(make_settings(database_url, tmp_path), clock)
    yield runtime
    runtime.close()


def test_importing_an_indications_file_twice_takes_each_over_once(
    runtime_in_2014: Runtime, tmp_path: Path
) -> None:
    source = tmp_path / "ciz-export.ndjson"
    lines = [
        indicatie(),
        indicatie(indicatienummer="CIZ-2014-000124", functie="BW", einddatum=None),
        indicatie(indicatienummer="CIZ-2013-000001", einddatum="2014-06-30"),
        {"indicatienummer": "CIZ-2014-000125", "bron": "AWBZ"},
    ]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    results = io.StringIO()
    summary, problems = run_import(
        runtime_in_2014, source, indicaties=True, results=results, show_progress=False
    )
    assert summary.as_dict() == {"accepted": 2, "duplicate": 0, "rejected": 2, "error": 0}
    assert [(p.line, p.problem["errors"][0]["rule"]) for p in problems if p.problem] == [
        (3, "indicatie-verlopen"),
        (4, "literal-error"),
    ]
    with runtime_in_2014.sessions() as session:
        stored = session.execute(
            select(Beschikking.beschikkingnummer, Beschikking.law, Toewijzing.categorie, Toewijzing.einddatum)
            .join(Toewijzing, Toewijzing.beschikking_id == Beschikking.id)
            .order_by(Beschikking.id)
        ).all()
    assert [tuple(row) for row in stored] == [
        ("IND-CIZ-2014-000123", "wmo", "02", date(2015, 12, 31)),
        ("IND-CIZ-2014-000124", "wmo", "15", date(2019, 12, 31)),
    ]
    again, _ = run_import(runtime_in_2014, source, indicaties=True, show_progress=False)
    assert again.as_dict() == {"accepted": 0, "duplicate": 2, "rejected": 2, "error": 0}
