"""The CAK rules against a real database (both): what is chargeable, when a start or stop
is queued, the kostprijs, and the reporting deadline in calendar months."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.cak import Regeling, parse_melding
from gateway import eigen_bijdrage
from gateway.bsn import keyed_hash
from gateway.clock import NL, FrozenClock
from gateway.deadlines import KALENDERMAANDEN, DeadlineKind, add_calendar_months
from gateway.eigen_bijdrage import after_provisions_changed, regeling_of
from gateway.runtime import Runtime
from gateway.settings import EigenBijdragePolicy
from gateway.store.cak_tables import CakMelding, CakPersoon
from gateway.store.database import transaction
from gateway.store.tables import Beschikking, Message, Toewijzing
from gateway.store.tracking_tables import Deadline
from tests.conftest import BSN, make_settings

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def rt(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime.create(make_settings(database_url, tmp_path), FrozenClock(NOW))
    yield runtime
    runtime.close()


@pytest.mark.parametrize(
    ("categorie", "expected"),
    [(f"{n:02d}", Regeling.EIGEN_BIJDRAGE) for n in range(1, 15)]
    + [("15", Regeling.BESCHERMD_WONEN), ("16", None), ("17", None), ("18", None), ("45", None)],
)
def test_default_category_mapping(categorie: str, expected: Regeling | None) -> None:
    assert regeling_of(EigenBijdragePolicy(), categorie, None) is expected


def test_product_codes_override_the_category() -> None:
    policy = EigenBijdragePolicy(vrijgestelde_productcodes=["06CO1"], extra_bijdrage_productcodes=["18X01"])
    assert regeling_of(policy, "06", "06CO1") is None  # e.g. cliëntondersteuning
    assert regeling_of(policy, "06", "06A01") is Regeling.EIGEN_BIJDRAGE
    assert regeling_of(policy, "18", "18X01") is Regeling.EIGEN_BIJDRAGE
    assert regeling_of(EigenBijdragePolicy(bijdrage_categorieen=["01"]), "02", None) is None
    with pytest.raises(ValueError, match="not an iWmo product category"):
        EigenBijdragePolicy(bijdrage_categorieen=["45"])


def _client(
    session: Any, runtime: Runtime, *rows: tuple[str, str, str, date | None], law: str = "wmo"
) -> list[int]:
    """A beschikking for BSN with toewijzingen (categorie, code, leveringsvorm, einddatum)."""
    bsn_hash = keyed_hash(BSN, runtime.settings.hash_key)
    beschikking = Beschikking(
        law=law,
        beschikkingnummer=f"B-{len(rows)}-{rows[0][0]}-{law}",
        gemeentecode="0637",
        bsn=BSN,
        bsn_hash=bsn_hash,
        client={"geboortedatum": "1950-04-01", "geslacht": "1", "naam": {"achternaam": "Vries"}},
        verwijzer=None,
        gebiedsteam=None,
        commentaar=None,
        api_client_id=None,
        received_at=NOW,
    )
    session.add(beschikking)
    session.flush()
    ids = []
    for categorie, code, vorm, einde in rows:
        row = Toewijzing(
            beschikking_id=beschikking.id,
            law=law,
            bsn_hash=bsn_hash,
            aanbieder_agb="99990003" if vorm == "ZIN" else "",
            leveringsvorm=vorm,
            categorie=categorie,
            productcode=code,
            ingangsdatum=date(2026, 12, 1),
            einddatum=einde,
            volume=None,
            eenheid=None,
            frequentie=None,
            budget=None,
            toewijzingsdatum=date(2026, 11, 23),
            toewijzingstijd=time(11, 0),
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(row)
        session.flush()
        ids.append(row.id)
    return ids


def _changed(session: Any, runtime: Runtime, trigger: str = "beschikking", **kwargs: Any) -> list[Message]:
    bsn_hash = keyed_hash(BSN, runtime.settings.hash_key)
    return after_provisions_changed(session, runtime, bsn_hash=bsn_hash, law="wmo", trigger=trigger, **kwargs)


def test_youth_care_never_and_a_disabled_policy_nothing(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        _client(session, rt, ("02", "02A01", "ZIN", None), law="jeugdwet")
        bsn_hash = keyed_hash(BSN, rt.settings.hash_key)
        assert (
            after_provisions_changed(session, rt, bsn_hash=bsn_hash, law="jeugdwet", trigger="beschikking")
            == []
        )
        assert session.scalars(select(CakMelding)).all() == []
    rt.settings.eigen_bijdrage.enabled = False
    try:
        with transaction(rt.sessions) as session:
            _client(session, rt, ("02", "02A01", "ZIN", None))
            assert _changed(session, rt) == []
    finally:
        rt.settings.eigen_bijdrage.enabled = True


def test_start_is_idempotent_and_kostprijs_only_for_hulpmiddelen(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        hulpmiddel, begeleiding = _client(
            session, rt, ("13", "13A01", "ZIN", None), ("02", "02A01", "ZIN", None)
        )
        [message] = _changed(session, rt, kostprijzen={hulpmiddel: 250000, begeleiding: 999})
        assert (message.message_type, message.receiver, message.law) == ("WMO405", "CAK", "wmo")
        sent = {v.toewijzingnummer: v for v in parse_melding(message.payload).voorzieningen}
        assert sent[hulpmiddel].kostprijs == 250000 and sent[begeleiding].kostprijs is None
        assert _changed(session, rt, trigger="wijziging") == []  # nothing changed: nothing sent
        assert _changed(session, rt, trigger="start") == []  # 305s do not move a beschikking picture
        [persoon] = session.scalars(select(CakPersoon)).all()
        assert (persoon.status, persoon.begindatum, persoon.voorzieningen) == (
            "lopend",
            date(2026, 12, 1),
            [hulpmiddel, begeleiding],
        )


@pytest.mark.parametrize(
    ("vorm", "kind", "months"),
    [("ZIN", DeadlineKind.CAK_MELDING, 1), ("PGB", DeadlineKind.CAK_MELDING_PGB, 4)],
)
def test_reporting_deadline_in_calendar_months(rt: Runtime, vorm: str, kind: str, months: int) -> None:
    assert KALENDERMAANDEN[kind] == months
    with transaction(rt.sessions) as session:
        _client(session, rt, ("02", "02A01", vorm, None))
        [message] = _changed(session, rt)
        deadlines = {
            d.kind: d for d in session.scalars(select(Deadline).where(Deadline.message_id == message.id))
        }
        assert set(deadlines) == {"retour", kind}
        due = deadlines[kind].due_at.astimezone(NL)
        assert (
            due.date() == add_calendar_months(date(2026, 11, 23), months) and deadlines[kind].werkdagen == 0
        )


def test_beschermd_wonen_has_its_own_picture_and_stop_follows_an_earlier_end(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        bw, hh = _client(session, rt, ("15", "15A01", "ZIN", date(2027, 6, 30)), ("01", "01A01", "ZIN", None))
        started = _changed(session, rt)
        assert sorted(m.message_type for m in started) == ["WMO405", "WMO407"]
        session.get(Toewijzing, bw).einddatum = date(2027, 1, 31)  # type: ignore[union-attr]
        [stop] = _changed(session, rt, trigger="wijziging")
        assert stop.message_type == "WMO407"
        melding = parse_melding(stop.payload)
        assert (melding.soort.name, melding.datum) == ("STOP", date(2027, 1, 31))
        regelingen = {p.regeling: p.status for p in session.scalars(select(CakPersoon))}
        assert regelingen == {"beschermd_wonen": "gestopt", "eigen_bijdrage": "lopend"}
        session.get(Toewijzing, bw).einddatum = date(2027, 3, 31)  # type: ignore[union-attr]
        [restart] = _changed(session, rt, trigger="wijziging")
        assert (parse_melding(restart.payload).soort.name, parse_melding(restart.payload).datum) == (
            "START",
            date(2027, 2, 1),
        )
        assert hh > 0


def test_readers_are_registered_for_both_retours() -> None:
    assert set(eigen_bijdrage.RETOUR_READERS) == {"WMO406", "WMO408"}


def test_a_provision_that_runs_out_by_itself_is_stopped_once_by_the_sweep(rt: Runtime) -> None:
    from datetime import timedelta

    from gateway.eigen_bijdrage import sweep_ended

    with transaction(rt.sessions) as session:
        _client(session, rt, ("02", "02A01", "ZIN", date(2026, 12, 31)))
        [start] = _changed(session, rt)
        assert parse_melding(start.payload).soort.name == "START"
    assert sweep_ended(rt) == 0  # still running on 23 November 2026
    assert isinstance(rt.clock, FrozenClock)
    rt.clock.advance(timedelta(days=40))  # 2 January 2027
    assert sweep_ended(rt) == 1
    assert sweep_ended(rt) == 0  # reported once
    with rt.sessions() as session:
        [stop] = session.scalars(
            select(Message).where(Message.message_type == "WMO405").order_by(Message.id.desc()).limit(1)
        ).all()
        melding = parse_melding(stop.payload)
        assert (melding.soort.name, melding.datum) == ("STOP", date(2026, 12, 31))
        assert session.scalars(select(CakPersoon.status)).all() == ["gestopt"]
