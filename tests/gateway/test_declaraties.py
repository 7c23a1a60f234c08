"""The 323 -> 325 rules: one test per retourcode, a fully granted and a partly rejected declaratie.

Each test runs for both laws and on both databases, through the real handler and a
real database transaction; toewijzingen are plain ``Toewijzing`` rows.

The ``gemeente`` fixture creates the declaratie tables when missing
(``create_all(checkfirst=True)``): a no-op once the Alembic migration has them.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.istandaard import Law
from connectors.istandaard.declaratie import parse_declaratie_antwoord, render_declaratie_antwoord
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import BedragMetDC, Declaratie, DeclaratieClient, Prestatie
from gateway.bsn import keyed_hash
from gateway.declaraties import DeclaratieUitkomst, handle_declaratie
from gateway.inbound.context import InboundContext
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.declaratie_tables import DECLARATIE_TABLES, DeclaratieRow, PrestatieRow
from gateway.store.tables import Base, Beschikking, Toewijzing

AGB = "99990001"
GEMEENTE = "0637"
BSN = "999900006"
OTHER_BSN = "999900018"
FEB_BEGIN, FEB_END = date(2027, 2, 1), date(2027, 2, 28)  # 1 Feb 2027 is a Monday: exactly 4 weeks
TARIEF = 6000  # eurocent per hour
#: 4 hours per week over February: 16 hours = 960 minutes.
FEB_MINUTES = 960

PRODUCT: dict[Law, tuple[str, str]] = {Law.JEUGDWET: ("45", "45A08"), Law.WMO: ("02", "02A01")}
OTHER_PRODUCT: dict[Law, tuple[str, str]] = {Law.JEUGDWET: ("43", "43A01"), Law.WMO: ("03", "03A01")}


@pytest.fixture(params=[Law.JEUGDWET, Law.WMO], ids=["jeugdwet", "wmo"])
def law(request: pytest.FixtureRequest) -> Law:
    law: Law = request.param
    return law


class Gemeente:
    """The gemeente's side: toewijzingen in the database and declaraties sent to the handler."""

    def __init__(self, runtime: Runtime, law: Law) -> None:
        self.runtime, self.law = runtime, law
        self.categorie, self.productcode = PRODUCT[law]
        self._numbers = itertools.count(1)
        with transaction(runtime.sessions) as session:
            self.beschikkingen = {bsn: self._beschikking(session, bsn) for bsn in (BSN, OTHER_BSN)}

    def _beschikking(self, session: Any, bsn: str) -> int:
        row = Beschikking(
            law=self.law.value,
            beschikkingnummer=f"B-{bsn}",
            gemeentecode=GEMEENTE,
            bsn=bsn,
            bsn_hash=keyed_hash(bsn, self.runtime.settings.hash_key),
            client={},
            verwijzer=None,
            received_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return int(row.id)

    def toewijzing(self, nummer: int = 1001, *, bsn: str = BSN, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "id": nummer,
            "beschikking_id": self.beschikkingen[bsn],
            "law": self.law.value,
            "bsn_hash": keyed_hash(bsn, self.runtime.settings.hash_key),
            "aanbieder_agb": AGB,
            "leveringsvorm": "ZIN",
            "categorie": self.categorie,
            "productcode": self.productcode,
            "ingangsdatum": date(2027, 1, 1),
            "einddatum": date(2027, 6, 30),
            "volume": 4,
            "eenheid": "04",
            "frequentie": "2",
            "budget": None,
            "toewijzingsdatum": date(2026, 12, 15),
            "toewijzingstijd": time(10, 0),
            "reden_wijziging": None,
            "created_at": datetime.now(UTC),
            "updated_at": datetime.now(UTC),
        }
        values.update(overrides)
        with transaction(self.runtime.sessions) as session:
            session.add(Toewijzing(**values))

    def prestatie(self, referentie: str = "R1", **overrides: Any) -> Prestatie:
        values: dict[str, Any] = {
            "referentienummer": referentie,
            "toewijzingnummer": 1001,
            "categorie": self.categorie,
            "productcode": self.productcode,
            "periode_begin": FEB_BEGIN,
            "periode_eind": FEB_END,
            "geleverd_volume": FEB_MINUTES,
            "eenheid": "01",
            "product_tarief": TARIEF,
            "ingediend_bedrag": BedragMetDC(FEB_MINUTES * TARIEF // 60),
        }
        values.update(overrides)
        return Prestatie(**values)

    def credit(self, debet: Prestatie, referentie: str, vorig: str | None) -> Prestatie:
        bedrag = BedragMetDC(debet.ingediend_bedrag.bedrag, "C")
        return replace(
            debet, referentienummer=referentie, vorig_referentienummer=vorig, ingediend_bedrag=bedrag
        )

    def declaratie(self, *prestaties: Prestatie, nummer: str | None = None, bsn: str = BSN) -> Declaratie:
        n = next(self._numbers)
        total = sum(p.ingediend_bedrag.signed for p in prestaties)
        return Declaratie(
            header=BerichtHeader(
                law=self.law,
                afzender=AGB,
                ontvanger=GEMEENTE,
                identificatie=f"D{n}",
                dagtekening=date(2027, 3, 2),
            ),
            declaratienummer=nummer or f"DN{n}",
            periode_begin=FEB_BEGIN,
            periode_eind=FEB_END,
            dagtekening=date(2027, 3, 2),
            totaal_ingediend=BedragMetDC(abs(total), "C" if total < 0 else "D"),
            clienten=(DeclaratieClient(bsn=bsn, prestaties=prestaties),),
        )

    def send(self, bericht: Declaratie) -> DeclaratieUitkomst:
        ctx = InboundContext(
            inbound_id=next(self._numbers),
            law=self.law,
            aanbieder=AGB,
            gemeentecode=GEMEENTE,
            received_at=datetime.now(UTC),
            today=date(2027, 3, 3),
            bericht_identificatie=bericht.header.identificatie,
        )
        with transaction(self.runtime.sessions) as session:
            return handle_declaratie(session, self.runtime, ctx, bericht)

    def codes(self, *prestaties: Prestatie) -> dict[str, tuple[str, ...]]:
        """Send one declaratie with ``prestaties``; the 325's codes per ReferentieNummer."""
        return dict(self.send(self.declaratie(*prestaties)).antwoord.prestatie_codes)

    def stored(self) -> list[PrestatieRow]:
        with transaction(self.runtime.sessions) as session:
            return list(session.scalars(select(PrestatieRow).order_by(PrestatieRow.id)))


@pytest.fixture
def gemeente(runtime: Runtime, law: Law) -> Gemeente:
    Base.metadata.create_all(runtime.engine, tables=list(DECLARATIE_TABLES), checkfirst=True)
    return Gemeente(runtime, law)


# --- the whole declaratie ----------------------------------------------------------------


def test_a_fully_granted_declaratie_is_answered_8001_without_prestatie_detail(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    bericht = gemeente.declaratie(gemeente.prestatie("R1"))
    antwoord, events = gemeente.send(bericht)

    assert antwoord.header_codes == ("8001",)
    assert antwoord.declaratie_codes == ("0200",)
    assert antwoord.prestatie_codes == {}
    assert antwoord.totaal_toegekend == BedragMetDC(96000, "D") == antwoord.totaal_ingediend
    assert (antwoord.header.afzender, antwoord.header.ontvanger) == (GEMEENTE, AGB)
    assert antwoord.declaratie_identificatie == bericht.header.identificatie
    [(kind, data)] = events
    assert kind == "declaratie.ontvangen"
    assert data["totaal_toegekend"] == 96000 and data["afgewezen"] == 0 and data["volledig_toegekend"]
    assert BSN not in repr(data) and "inbound_id" not in data
    [row] = gemeente.stored()
    assert (row.status, row.bedrag, row.retour_codes) == ("toegekend", 96000, [])


def test_a_prestatie_exceeding_the_omvang_is_rejected_and_the_rest_granted(gemeente: Gemeente) -> None:
    gemeente.toewijzing(1001)
    gemeente.toewijzing(1002, bsn=OTHER_BSN)
    ok = gemeente.prestatie("R1")
    too_much = gemeente.prestatie(
        "R2", toewijzingnummer=1002, geleverd_volume=FEB_MINUTES + 60, ingediend_bedrag=BedragMetDC(102000)
    )
    bericht = gemeente.declaratie(ok)
    bericht = replace(
        bericht,
        totaal_ingediend=BedragMetDC(96000 + 102000),
        clienten=(*bericht.clienten, DeclaratieClient(bsn=OTHER_BSN, prestaties=(too_much,))),
    )
    antwoord, events = gemeente.send(bericht)

    assert antwoord.header_codes == ("0200",)
    assert antwoord.declaratie_codes == ("0200",)
    assert antwoord.prestatie_codes == {"R1": ("0200",), "R2": ("9321",)}
    assert antwoord.totaal_ingediend == BedragMetDC(198000)
    assert antwoord.totaal_toegekend == BedragMetDC(96000)
    assert events[0][1]["afgewezen"] == 1 and events[0][1]["retour_codes"] == ["9321"]
    assert [(r.referentienummer, r.status) for r in gemeente.stored()] == [
        ("R1", "toegekend"),
        ("R2", "afgewezen"),
    ]
    # The other engineer's 325 renderer accepts the answer; read back, it says the same.
    parsed = parse_declaratie_antwoord(render_declaratie_antwoord(antwoord, bericht))
    assert parsed.prestatie_codes == {"R1": ("0200",), "R2": ("9321",)}
    assert parsed.totaal_toegekend == BedragMetDC(96000)


def test_9333_a_reused_declaratienummer_rejects_the_whole_declaratie(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    gemeente.send(
        gemeente.declaratie(
            gemeente.prestatie("R1", geleverd_volume=60, ingediend_bedrag=BedragMetDC(6000)), nummer="DN-A"
        )
    )
    antwoord, events = gemeente.send(
        gemeente.declaratie(
            gemeente.prestatie("R2", geleverd_volume=60, ingediend_bedrag=BedragMetDC(6000)), nummer="DN-A"
        )
    )
    assert antwoord.declaratie_codes == ("9333",)
    assert antwoord.prestatie_codes == {}
    assert antwoord.totaal_toegekend == BedragMetDC(0)
    assert events[0][1]["retour_codes"] == ["9333"]
    assert [r.referentienummer for r in gemeente.stored()] == ["R1"]


# --- the toewijzing ----------------------------------------------------------------------


def test_9338_the_prestatie_names_no_toewijzing_of_this_client(gemeente: Gemeente) -> None:
    gemeente.toewijzing(1001)
    gemeente.toewijzing(1002, bsn=OTHER_BSN)
    codes = gemeente.codes(
        gemeente.prestatie("R1", toewijzingnummer=4242), gemeente.prestatie("R2", toewijzingnummer=1002)
    )
    assert codes == {"R1": ("9338",), "R2": ("9338",)}


def test_9338_a_toewijzing_of_another_aanbieder_does_not_count(gemeente: Gemeente) -> None:
    gemeente.toewijzing(aanbieder_agb="99990002")
    assert gemeente.codes(gemeente.prestatie()) == {"R1": ("9338",)}


def test_9384_declaring_on_a_deleted_toewijzing(gemeente: Gemeente) -> None:
    gemeente.toewijzing(reden_wijziging="13")
    assert gemeente.codes(gemeente.prestatie()) == {"R1": ("9384",)}


def test_9339_9340_category_and_code_must_match(gemeente: Gemeente, law: Law) -> None:
    gemeente.toewijzing()
    categorie, code = OTHER_PRODUCT[law]
    codes = gemeente.codes(gemeente.prestatie("R1", categorie=categorie, productcode=code))
    assert codes == {"R1": ("9339", "9340")}
    assert gemeente.codes(gemeente.prestatie("R2", productcode=code)) == {"R2": ("9340",)}


def test_9341_the_eenheid_must_fit_the_toewijzing(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    etmalen = gemeente.prestatie("R1", geleverd_volume=2, eenheid="14", ingediend_bedrag=BedragMetDC(12000))
    assert gemeente.codes(etmalen) == {"R1": ("9341",)}


def test_hours_may_be_declared_as_hours_or_minutes(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    uren = gemeente.prestatie("R1", geleverd_volume=8, eenheid="04", ingediend_bedrag=BedragMetDC(8 * TARIEF))
    minuten = gemeente.prestatie("R2", geleverd_volume=480, ingediend_bedrag=BedragMetDC(8 * TARIEF))
    antwoord, _ = gemeente.send(gemeente.declaratie(uren, minuten))
    assert antwoord.header_codes == ("8001",)
    # Together they are the whole month's 16 hours; one more minute is too much (9322).
    assert gemeente.codes(gemeente.prestatie("R3", geleverd_volume=1, ingediend_bedrag=BedragMetDC(100))) == {
        "R3": ("9322",)
    }


# --- periods -----------------------------------------------------------------------------


def test_9307_the_begin_lies_before_the_toewijzing(gemeente: Gemeente) -> None:
    gemeente.toewijzing(ingangsdatum=date(2027, 2, 10))
    assert gemeente.codes(gemeente.prestatie()) == {"R1": ("9307",)}


def test_9308_the_end_lies_after_the_toewijzing(gemeente: Gemeente) -> None:
    gemeente.toewijzing(einddatum=date(2027, 2, 20))
    assert gemeente.codes(gemeente.prestatie()) == {"R1": ("9308",)}


def test_9319_the_productperiode_lies_outside_the_declaratieperiode(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    januari = gemeente.prestatie(periode_begin=date(2027, 1, 1), periode_eind=date(2027, 1, 31))
    assert gemeente.codes(januari) == {"R1": ("9319",)}


def test_9387_a_period_starting_mid_month_needs_a_toewijzing_starting_then(gemeente: Gemeente) -> None:
    gemeente.toewijzing(1001)
    gemeente.toewijzing(1002, ingangsdatum=date(2027, 2, 3), productcode=gemeente.productcode)
    mid = {"periode_begin": date(2027, 2, 3), "geleverd_volume": 60, "ingediend_bedrag": BedragMetDC(6000)}
    assert gemeente.codes(gemeente.prestatie("R1", **mid)) == {"R1": ("9387",)}
    antwoord, _ = gemeente.send(gemeente.declaratie(gemeente.prestatie("R2", toewijzingnummer=1002, **mid)))
    assert antwoord.header_codes == ("8001",)


def test_9388_a_period_ending_mid_month_needs_a_toewijzing_ending_then(gemeente: Gemeente) -> None:
    gemeente.toewijzing(1001)
    gemeente.toewijzing(1002, einddatum=date(2027, 2, 20))
    mid = {"periode_eind": date(2027, 2, 20), "geleverd_volume": 60, "ingediend_bedrag": BedragMetDC(6000)}
    assert gemeente.codes(gemeente.prestatie("R1", **mid)) == {"R1": ("9388",)}
    antwoord, _ = gemeente.send(gemeente.declaratie(gemeente.prestatie("R2", toewijzingnummer=1002, **mid)))
    assert antwoord.header_codes == ("8001",)


# --- volumes and amounts -----------------------------------------------------------------


def test_9321_one_prestatie_above_the_omvang_of_its_period(gemeente: Gemeente) -> None:
    gemeente.toewijzing(frequentie="4", volume=10)  # 10 hours per month
    over = gemeente.prestatie(geleverd_volume=601, ingediend_bedrag=BedragMetDC(60100))
    assert gemeente.codes(over) == {"R1": ("9321",)}
    antwoord, _ = gemeente.send(
        gemeente.declaratie(
            gemeente.prestatie("R2", geleverd_volume=600, ingediend_bedrag=BedragMetDC(60000))
        )
    )
    assert antwoord.header_codes == ("8001",)


def test_9322_the_sum_with_earlier_granted_prestaties_exceeds_the_omvang(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    half = {"geleverd_volume": 600, "ingediend_bedrag": BedragMetDC(60000)}
    first, _ = gemeente.send(gemeente.declaratie(gemeente.prestatie("R1", **half)))
    assert first.header_codes == ("8001",)
    assert gemeente.codes(gemeente.prestatie("R2", **half)) == {"R2": ("9322",)}
    # The rejected one does not count: 360 more minutes still fit.
    rest = gemeente.prestatie("R3", geleverd_volume=360, ingediend_bedrag=BedragMetDC(36000))
    assert gemeente.send(gemeente.declaratie(rest)).antwoord.header_codes == ("8001",)


def test_9322_totaal_frequentie_counts_the_whole_toewijzing(gemeente: Gemeente) -> None:
    gemeente.toewijzing(frequentie="6", volume=20)  # 20 hours in total
    gemeente.send(
        gemeente.declaratie(
            gemeente.prestatie("R1", geleverd_volume=900, ingediend_bedrag=BedragMetDC(90000))
        )
    )
    second = gemeente.prestatie("R2", geleverd_volume=301, ingediend_bedrag=BedragMetDC(30100))
    assert gemeente.codes(second) == {"R2": ("9322",)}


def test_9369_the_granted_amounts_exceed_the_budget(gemeente: Gemeente) -> None:
    gemeente.toewijzing(productcode=None, volume=None, eenheid=None, frequentie=None, budget=100000)
    euro = {"eenheid": "83", "product_tarief": None}
    first = gemeente.prestatie("R1", geleverd_volume=600, ingediend_bedrag=BedragMetDC(60000), **euro)
    assert gemeente.send(gemeente.declaratie(first)).antwoord.header_codes == ("8001",)
    second = gemeente.prestatie("R2", geleverd_volume=500, ingediend_bedrag=BedragMetDC(50000), **euro)
    assert gemeente.codes(second) == {"R2": ("9369",)}


def test_9346_the_amount_must_be_volume_times_tarief(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    assert gemeente.codes(gemeente.prestatie("R1", ingediend_bedrag=BedragMetDC(96001))) == {"R1": ("9346",)}
    # 45 minutes at 60.01 an hour is 45.0075 euro: 4500.75 eurocent, half-up 4501.
    kwartier = {"geleverd_volume": 45, "product_tarief": 6001}
    assert gemeente.codes(gemeente.prestatie("R2", ingediend_bedrag=BedragMetDC(4500), **kwartier)) == {
        "R2": ("9346",)
    }
    exact = gemeente.prestatie("R3", ingediend_bedrag=BedragMetDC(4501), **kwartier)
    assert gemeente.send(gemeente.declaratie(exact)).antwoord.header_codes == ("8001",)


# --- references and credits --------------------------------------------------------------


def test_8021_a_referentienummer_is_used_once(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    small = {"geleverd_volume": 60, "ingediend_bedrag": BedragMetDC(6000)}
    gemeente.send(gemeente.declaratie(gemeente.prestatie("R1", **small)))
    assert gemeente.codes(gemeente.prestatie("R1", **small)) == {"R1": ("8021",)}
    # Twice in one declaratie: both occurrences, since the 325 answers per ReferentieNummer.
    antwoord, _ = gemeente.send(
        gemeente.declaratie(gemeente.prestatie("R9", **small), gemeente.prestatie("R9", **small))
    )
    assert antwoord.prestatie_codes == {"R9": ("8021",)}
    assert antwoord.totaal_toegekend == BedragMetDC(0)


def test_a_credit_reverses_an_approved_debet_and_frees_its_volume(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    debet = gemeente.prestatie("R1")
    gemeente.send(gemeente.declaratie(debet))
    credit = gemeente.credit(debet, "R2", vorig="R1")
    antwoord, _ = gemeente.send(gemeente.declaratie(credit))
    assert antwoord.header_codes == ("8001",)
    assert antwoord.totaal_toegekend == BedragMetDC(96000, "C")
    # The corrected debet fits again: the credited minutes no longer count (no 9322).
    correctie = gemeente.prestatie("R3", vorig_referentienummer="R2")
    assert gemeente.send(gemeente.declaratie(correctie)).antwoord.header_codes == ("8001",)


def test_9390_a_debet_is_credited_once(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    debet = gemeente.prestatie("R1")
    gemeente.send(gemeente.declaratie(debet, gemeente.credit(debet, "R2", vorig="R1")))
    assert gemeente.codes(gemeente.credit(debet, "R3", vorig="R1")) == {"R3": ("9390",)}


def test_8017_a_credit_needs_the_approved_debet_it_mirrors(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    debet = gemeente.prestatie("R1")
    gemeente.send(gemeente.declaratie(debet))
    assert gemeente.codes(gemeente.credit(debet, "R2", vorig="R404")) == {"R2": ("8017",)}
    other_amount = replace(gemeente.credit(debet, "R3", vorig="R1"), ingediend_bedrag=BedragMetDC(1000, "C"))
    assert gemeente.codes(other_amount) == {"R3": ("8017",)}


def test_a_credit_may_repeat_the_debets_own_referentienummer(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    debet = gemeente.prestatie("R1")
    gemeente.send(gemeente.declaratie(debet))
    antwoord, _ = gemeente.send(gemeente.declaratie(gemeente.credit(debet, "R1", vorig=None)))
    assert antwoord.header_codes == ("8001",)
    assert gemeente.codes(gemeente.credit(debet, "R1", vorig=None)) == {"R1": ("8021", "9390")}


def test_9389_a_correction_of_a_debet_that_was_not_credited(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    small = {"geleverd_volume": 60, "ingediend_bedrag": BedragMetDC(6000)}
    gemeente.send(gemeente.declaratie(gemeente.prestatie("R1", **small)))
    assert gemeente.codes(gemeente.prestatie("R2", vorig_referentienummer="R1", **small)) == {"R2": ("9389",)}


def test_rows_of_a_failed_transaction_are_not_kept(gemeente: Gemeente) -> None:
    gemeente.toewijzing()
    bericht = gemeente.declaratie(gemeente.prestatie("R1"))
    with pytest.raises(RuntimeError), transaction(gemeente.runtime.sessions) as session:
        ctx = InboundContext(1, gemeente.law, AGB, GEMEENTE, datetime.now(UTC), date(2027, 3, 3), "D1")
        handle_declaratie(session, gemeente.runtime, ctx, bericht)
        raise RuntimeError("the dispatcher failed after the handler")
    with transaction(gemeente.runtime.sessions) as session:
        assert session.scalar(select(func.count()).select_from(DeclaratieRow)) == 0
    assert gemeente.send(bericht).antwoord.header_codes == ("8001",)
