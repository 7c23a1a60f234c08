"""The 305/307 rules: each cross-message rule triggers its retourcode, and the
happy paths (start, temporary stop, restart, definitive stop, correction, removal)
are stored - for both laws, on SQLite and PostgreSQL.

Toewijzingen are made as rows; the handlers are called directly inside one
transaction each, like the dispatcher does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from connectors.istandaard.law import Law
from connectors.istandaard.model import BerichtHeader, Product
from connectors.istandaard.model_inbound import (
    ClientKort,
    StartBericht,
    StartProduct,
    StopBericht,
    StopProduct,
    VerkorteNaam,
)
from gateway.bsn import keyed_hash
from gateway.inbound.context import InboundContext, RetourDecision
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Base, Beschikking, InboundMessage, Toewijzing
from gateway.store.zorglevering_tables import ZorgleveringMelding
from gateway.zorglevering import handle_start, handle_stop, werkdagen_late

AANBIEDER = "99990001"
ANDERE_AANBIEDER = "99990002"
BSN = "999900006"
ANDERE_BSN = "999900018"
INGANG = date(2026, 1, 5)
EIND = date(2026, 12, 31)
START = "Client/StartProducten/StartProduct[{}]"
STOP = "Client/StopProducten/StopProduct[{}]"
_ids = itertools.count(1)


@pytest.fixture(params=[Law.JEUGDWET, Law.WMO], ids=["ijw", "iwmo"])
def law(request: pytest.FixtureRequest) -> Law:
    value: Law = request.param
    return value


class World:
    """One client with one toewijzing at the aanbieder, and a way to send 305/307s."""

    def __init__(self, runtime: Runtime, law: Law) -> None:
        self.runtime = runtime
        self.law = law
        self.today = date(2026, 3, 2)
        self.nummer = self.toewijzing()

    def toewijzing(
        self,
        *,
        bsn: str = BSN,
        aanbieder: str = AANBIEDER,
        law: Law | None = None,
        einddatum: date | None = EIND,
        reden_wijziging: str | None = None,
    ) -> int:
        law = law or self.law
        now = datetime.now(UTC)
        bsn_hash = keyed_hash(bsn, self.runtime.settings.hash_key)
        with transaction(self.runtime.sessions) as session:
            beschikking = Beschikking(
                law=law.value,
                beschikkingnummer=f"B-{next(_ids)}",
                gemeentecode="0637",
                bsn=bsn,
                bsn_hash=bsn_hash,
                client={},
                verwijzer=None,
                received_at=now,
            )
            session.add(beschikking)
            session.flush()
            row = Toewijzing(
                beschikking_id=beschikking.id,
                law=law.value,
                bsn_hash=bsn_hash,
                aanbieder_agb=aanbieder,
                leveringsvorm="ZIN",
                categorie="45" if law is Law.JEUGDWET else "02",
                productcode="45A08" if law is Law.JEUGDWET else "02A01",
                ingangsdatum=INGANG,
                einddatum=einddatum,
                volume=4,
                eenheid="04",
                frequentie="2",
                toewijzingsdatum=INGANG,
                toewijzingstijd=time(9, 0),
                reden_wijziging=reden_wijziging,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return row.id

    def _call(self, handler: str, bericht: StartBericht | StopBericht, aanbieder: str) -> RetourDecision:
        with transaction(self.runtime.sessions) as session:
            inbound = InboundMessage(
                party="ggk",
                operation="Di01",
                message_type=self.law.function_name(305 if handler == "start" else 307),
                sender=aanbieder,
                receiver="0637",
                status="matched",
                body=b"<test/>",
                received_at=datetime.now(UTC),
            )
            session.add(inbound)
            session.flush()
            ctx = InboundContext(
                inbound_id=inbound.id,
                law=self.law,
                aanbieder=aanbieder,
                gemeentecode="0637",
                received_at=datetime.now(UTC),
                today=self.today,
                bericht_identificatie=bericht.header.identificatie,
            )
            if isinstance(bericht, StartBericht):
                return handle_start(session, self.runtime, ctx, bericht)
            return handle_stop(session, self.runtime, ctx, bericht)

    def header(self, aanbieder: str) -> BerichtHeader:
        return BerichtHeader(
            law=self.law,
            afzender=aanbieder,
            ontvanger="0637",
            identificatie=f"M{next(_ids)}",
            dagtekening=self.today,
        )

    def client(self, bsn: str) -> ClientKort:
        return ClientKort(bsn=bsn, geboortedatum=date(2014, 3, 21), geslacht="2", naam=VerkorteNaam("Jansen"))

    def start_product(self, begindatum: date, status: str = "1", nummer: int | None = None) -> StartProduct:
        return StartProduct(
            begindatum=begindatum,
            status_aanlevering=status,
            toewijzingnummer=self.nummer if nummer is None else nummer,
        )

    def stop_product(
        self,
        begindatum: date,
        einddatum: date,
        reden: str = "31",
        status: str = "1",
        nummer: int | None = None,
    ) -> StopProduct:
        return StopProduct(
            begindatum=begindatum,
            einddatum=einddatum,
            reden_beeindiging=reden,
            status_aanlevering=status,
            toewijzingnummer=self.nummer if nummer is None else nummer,
        )

    def start(
        self, *products: StartProduct | date, bsn: str = BSN, aanbieder: str = AANBIEDER
    ) -> RetourDecision:
        items = tuple(p if isinstance(p, StartProduct) else self.start_product(p) for p in products)
        return self._call("start", StartBericht(self.header(aanbieder), self.client(bsn), items), aanbieder)

    def stop(self, *products: StopProduct, bsn: str = BSN, aanbieder: str = AANBIEDER) -> RetourDecision:
        return self._call("stop", StopBericht(self.header(aanbieder), self.client(bsn), products), aanbieder)

    def rows(self, soort: str | None = None) -> list[ZorgleveringMelding]:
        with transaction(self.runtime.sessions) as session:
            query = select(ZorgleveringMelding).order_by(ZorgleveringMelding.id)
            if soort is not None:
                query = query.where(ZorgleveringMelding.soort == soort)
            return list(session.scalars(query))

    def count(self) -> int:
        with transaction(self.runtime.sessions) as session:
            return session.scalar(select(func.count()).select_from(ZorgleveringMelding)) or 0


@pytest.fixture
def world(runtime: Runtime, law: Law) -> Iterator[World]:
    # Until the migration carries the table everywhere: create it when it is missing.
    Base.metadata.create_all(runtime.engine, tables=[ZorgleveringMelding.__table__], checkfirst=True)  # type: ignore[list-item]
    yield World(runtime, law)


def accepted(decision: RetourDecision) -> bool:
    return not decision.refused and decision.element_codes == {} and decision.header_codes == []


def event_types(decision: RetourDecision) -> list[str]:
    return [type_ for type_, _ in decision.events]


# --- happy paths ------------------------------------------------------------------------


def test_a_start_is_accepted_stored_and_reported(world: World) -> None:
    decision = world.start(date(2026, 3, 2))

    assert accepted(decision)
    assert decision.events == [
        (
            "zorg.gestart",
            {
                "wet": world.law.value,
                "toewijzingnummer": world.nummer,
                "begindatum": "2026-03-02",
                "status_aanlevering": "1",
                "aanbieder": AANBIEDER,
            },
        )
    ]
    [row] = world.rows()
    assert (row.soort, row.toewijzingnummer, row.begindatum, row.status_aanlevering) == (
        "start",
        world.nummer,
        date(2026, 3, 2),
        "1",
    )
    assert row.actueel and not row.verwijderd and row.law == world.law.value
    assert row.bsn_hash == keyed_hash(BSN, world.runtime.settings.hash_key)
    assert row.inbound_id > 0 and row.bericht_identificatie.startswith("M")


def test_start_temporary_stop_restart_definitive_stop_and_new_start(world: World) -> None:
    first, second, third = date(2026, 2, 2), date(2026, 2, 23), date(2026, 4, 6)
    world.today = date(2026, 2, 2)
    assert accepted(world.start(first))
    world.today = date(2026, 2, 9)
    temporary = world.stop(world.stop_product(first, date(2026, 2, 9), reden="20"))
    assert accepted(temporary)
    assert temporary.events[0][0] == "zorg.gestopt" and temporary.events[0][1]["tijdelijk"] is True
    world.today = date(2026, 2, 23)
    assert accepted(world.start(second)), "care resumes after a temporary stop with a new start"
    world.today = date(2026, 3, 31)
    definitive = world.stop(world.stop_product(second, date(2026, 3, 31), reden="31"))
    assert accepted(definitive)
    assert definitive.events[0][1]["reden"] == "31" and definitive.events[0][1]["tijdelijk"] is False
    world.today = third
    assert accepted(world.start(third)), "a new start with a new begindatum after a definitive stop"

    starts, stops = world.rows("start"), world.rows("stop")
    assert [s.begindatum for s in starts] == [first, second, third]
    assert [(s.begindatum, s.einddatum, s.reden_beeindiging) for s in stops] == [
        (first, date(2026, 2, 9), "20"),
        (second, date(2026, 3, 31), "31"),
    ]
    assert all(r.actueel for r in starts + stops)


def test_a_temporary_stop_may_be_followed_by_a_definitive_one(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 2), reden="20")))
    # The care does not resume: a definitive stop with the same key, not earlier.
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 2), reden="31")))
    assert [r.reden_beeindiging for r in world.rows("stop") if r.actueel] == ["20", "31"]


def test_a_start_can_be_corrected_and_removed(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    corrected = world.start(world.start_product(begin, status="2"))
    assert accepted(corrected)
    assert corrected.events[0][0] == "zorg.gestart" and corrected.events[0][1]["status_aanlevering"] == "2"
    removed = world.start(world.start_product(begin, status="3"))
    assert accepted(removed)
    assert event_types(removed) == ["zorg.start_verwijderd"]

    first, correction, removal = world.rows()
    assert (first.actueel, first.verwijderd, first.vervangen_door_id) == (False, False, correction.id)
    assert (correction.actueel, correction.verwijderd, correction.vervangen_door_id) == (
        False,
        True,
        removal.id,
    )
    assert (removal.status_aanlevering, removal.actueel) == ("3", False)
    # Removed: the same key may be reported again as a first report.
    assert accepted(world.start(begin))


def test_a_stop_can_be_corrected_and_removed_and_then_the_start_removed(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 20))))
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 13), status="2")))
    [current] = [r for r in world.rows("stop") if r.actueel]
    assert (current.einddatum, current.status_aanlevering) == (date(2026, 3, 13), "2")

    removed = world.stop(world.stop_product(begin, date(2026, 3, 13), status="3"))
    assert accepted(removed) and event_types(removed) == ["zorg.stop_verwijderd"]
    assert not any(r.actueel for r in world.rows("stop"))
    assert accepted(world.start(world.start_product(begin, status="3")))


def test_accepted_products_of_a_message_are_kept_when_another_is_rejected(world: World) -> None:
    other = world.toewijzing()
    decision = world.start(
        world.start_product(date(2026, 3, 2)), world.start_product(date(2026, 3, 2), nummer=other + 1000)
    )
    assert decision.element_codes == {START.format(2): ["9019"]}
    assert [r.toewijzingnummer for r in world.rows()] == [world.nummer]
    assert event_types(decision) == ["zorg.gestart"]
    # The second product of one message is judged against the first one.
    twice = world.start(
        world.start_product(date(2026, 3, 9), nummer=other),
        world.start_product(date(2026, 3, 9), nummer=other),
    )
    assert twice.element_codes == {START.format(2): ["9074"]}


# --- TR019 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "unknown_number",
        "no_number",
        "other_aanbieder",
        "other_client",
        "other_law",
        "other_category",
        "other_code",
        "other_ingangsdatum",
        "before_ingangsdatum",
        "after_einddatum",
        "toewijzing_removed",
    ],
)
def test_a_product_that_cannot_be_linked_to_a_toewijzing_gets_9019(world: World, variant: str) -> None:
    begin = date(2026, 3, 2)
    product = world.start_product(begin)
    bsn, aanbieder = BSN, AANBIEDER
    toewijzing = Product(categorie="45" if world.law is Law.JEUGDWET else "02")
    if variant == "unknown_number":
        product = replace(product, toewijzingnummer=world.nummer + 1000)
    elif variant == "no_number":
        product = replace(product, toewijzingnummer=None)
    elif variant == "other_aanbieder":
        product = replace(product, toewijzingnummer=world.toewijzing(aanbieder=ANDERE_AANBIEDER))
    elif variant == "other_client":
        bsn = ANDERE_BSN
    elif variant == "other_law":
        other = Law.WMO if world.law is Law.JEUGDWET else Law.JEUGDWET
        product = replace(product, toewijzingnummer=world.toewijzing(law=other))
    elif variant == "other_category":
        product = replace(product, product=Product(categorie="46" if world.law is Law.JEUGDWET else "03"))
    elif variant == "other_code":
        product = replace(product, product=replace(toewijzing, code="45A09"))
    elif variant == "other_ingangsdatum":
        product = replace(product, toewijzing_ingangsdatum=INGANG + timedelta(days=1))
    elif variant == "before_ingangsdatum":
        product = replace(product, begindatum=INGANG - timedelta(days=1))
    elif variant == "after_einddatum":
        product = replace(product, begindatum=EIND + timedelta(days=1))
    elif variant == "toewijzing_removed":
        product = replace(product, toewijzingnummer=world.toewijzing(reden_wijziging="13"))

    decision = world.start(product, bsn=bsn, aanbieder=aanbieder)

    assert decision.header_codes == []
    assert decision.element_codes == {START.format(1): ["9019"]}
    assert decision.events == []
    assert world.count() == 0


def test_matching_product_and_ingangsdatum_are_accepted(world: World) -> None:
    code = "45A08" if world.law is Law.JEUGDWET else "02A01"
    product = Product(categorie="45" if world.law is Law.JEUGDWET else "02", code=code)
    begin = date(2026, 3, 2)
    start = replace(world.start_product(begin), product=product, toewijzing_ingangsdatum=INGANG)
    assert accepted(world.start(start))
    stop = replace(
        world.stop_product(begin, date(2026, 3, 6)), product=product, toewijzing_ingangsdatum=INGANG
    )
    assert accepted(world.stop(stop))


def test_a_stop_for_another_aanbieders_toewijzing_gets_9019(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    decision = world.stop(world.stop_product(begin, date(2026, 3, 6)), aanbieder=ANDERE_AANBIEDER)
    assert decision.element_codes == {STOP.format(1): ["9019"]}
    assert world.rows("stop") == []


# --- TR063 / TR074 / TR071 / TR326 (starts) ---------------------------------------------


def test_a_second_first_start_with_the_same_key_gets_9074(world: World) -> None:
    assert accepted(world.start(date(2026, 3, 2)))
    decision = world.start(date(2026, 3, 2))
    assert decision.element_codes == {START.format(1): ["9074"]}
    assert world.count() == 1


@pytest.mark.parametrize("status", ["2", "3"])
def test_changing_or_removing_an_unknown_start_gets_9063(world: World, status: str) -> None:
    assert accepted(world.start(date(2026, 3, 2)))
    decision = world.start(world.start_product(date(2026, 3, 3), status=status))
    assert decision.element_codes == {START.format(1): ["9063"]}
    assert world.count() == 1


@pytest.mark.parametrize("status", ["2", "3"])
def test_changing_or_removing_an_unknown_stop_gets_9063(world: World, status: str) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    decision = world.stop(world.stop_product(begin, date(2026, 3, 6), status=status))
    assert decision.element_codes == {STOP.format(1): ["9063"]}
    assert world.rows("stop") == []


def test_removing_a_start_whose_care_was_stopped_gets_9071(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 6))))
    decision = world.start(world.start_product(begin, status="3"))
    assert decision.element_codes == {START.format(1): ["9071"]}
    assert [r.actueel for r in world.rows("start")] == [True]


def test_a_new_start_while_the_current_one_is_not_stopped_gets_9326(world: World) -> None:
    assert accepted(world.start(date(2026, 3, 2)))
    decision = world.start(date(2026, 3, 9))
    assert decision.element_codes == {START.format(1): ["9326"]}
    assert world.count() == 1


# --- TR069 / TR413 / TR414 / TR415 (stops) ----------------------------------------------


def test_a_stop_without_a_current_start_with_its_key_gets_9069(world: World) -> None:
    assert accepted(world.start(date(2026, 3, 2)))
    decision = world.stop(world.stop_product(date(2026, 3, 3), date(2026, 3, 6)))
    assert decision.element_codes == {STOP.format(1): ["9069"]}
    assert world.rows("stop") == []


def test_a_second_temporary_stop_with_the_same_key_gets_9413(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 6), reden="20")))
    decision = world.stop(world.stop_product(begin, date(2026, 3, 13), reden="20"))
    assert decision.element_codes == {STOP.format(1): ["9413"]}
    assert len(world.rows("stop")) == 1


def test_a_stop_ending_before_the_current_temporary_stop_gets_9414(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 13), reden="20")))
    decision = world.stop(world.stop_product(begin, date(2026, 3, 12), reden="31"))
    assert decision.element_codes == {STOP.format(1): ["9414"]}
    assert len(world.rows("stop")) == 1


def test_any_stop_after_a_definitive_stop_gets_9415(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    assert accepted(world.stop(world.stop_product(begin, date(2026, 3, 13), reden="31")))
    for reden in ("31", "20"):
        decision = world.stop(world.stop_product(begin, date(2026, 3, 20), reden=reden))
        assert decision.element_codes == {STOP.format(1): ["9415"]}
    assert len(world.rows("stop")) == 1


# --- in-message rule --------------------------------------------------------------------


def test_a_stop_ending_before_it_began_rejects_the_whole_message_with_0001(world: World) -> None:
    begin = date(2026, 3, 2)
    other = world.toewijzing()
    assert accepted(world.start(begin))
    assert accepted(world.start(world.start_product(begin, nummer=other)))
    decision = world.stop(
        world.stop_product(begin, date(2026, 3, 6), nummer=other),
        world.stop_product(begin, date(2026, 3, 1)),
    )
    assert decision.header_codes == ["0001"]
    assert decision.element_codes == {} and decision.events == []
    assert world.rows("stop") == []


# --- timeliness -------------------------------------------------------------------------


def test_a_late_start_is_accepted_with_an_event(world: World) -> None:
    begin = date(2026, 3, 2)  # a Monday
    world.today = date(2026, 3, 10)  # 6 weekdays later
    decision = world.start(begin)
    assert accepted(decision)
    assert event_types(decision) == ["zorg.gestart", "melding.te_laat"]
    late = decision.events[1][1]
    assert (late["soort"], late["datum"], late["werkdagen"], late["toewijzingnummer"]) == (
        "start",
        "2026-03-02",
        6,
        world.nummer,
    )
    world.today = date(2026, 3, 13)  # the 5th weekday after Friday the 6th: in time
    stop = world.stop(world.stop_product(begin, date(2026, 3, 6)))
    assert accepted(stop) and event_types(stop) == ["zorg.gestopt"]
    assert len(world.rows()) == 2


def test_a_stop_reported_late_gets_the_event(world: World) -> None:
    begin = date(2026, 3, 2)
    assert accepted(world.start(begin))
    world.today = date(2026, 3, 17)
    decision = world.stop(world.stop_product(begin, date(2026, 3, 6)))
    assert event_types(decision) == ["zorg.gestopt", "melding.te_laat"]
    assert decision.events[1][1]["soort"] == "stop" and decision.events[1][1]["werkdagen"] == 7


def test_events_carry_no_bsn(world: World) -> None:
    begin = date(2026, 3, 2)
    world.today = date(2026, 4, 1)
    decisions = [world.start(begin), world.stop(world.stop_product(begin, date(2026, 3, 6)))]
    text = json.dumps([d.events for d in decisions])
    assert BSN not in text and BSN[-4:] + '"' not in text
    assert keyed_hash(BSN, world.runtime.settings.hash_key) not in text


def test_timeliness_counts_dutch_werkdagen_not_weekdays(world: World) -> None:
    # Thursday 2 April 2026; Easter Monday (6 April) is no werkdag, Good Friday is one by
    # default. Friday 10 April is the 5th werkdag after the start: in time, though it
    # is the 6th weekday.
    begin = date(2026, 4, 2)
    world.today = date(2026, 4, 10)
    assert event_types(world.start(begin)) == ["zorg.gestart"]
    world.today = date(2026, 4, 13)
    stop = world.stop(world.stop_product(begin, begin))
    assert event_types(stop) == ["zorg.gestopt", "melding.te_laat"]
    assert stop.events[1][1]["werkdagen"] == 6
    assert werkdagen_late(world.runtime, date(2026, 4, 9), date(2026, 4, 2)) == 0
