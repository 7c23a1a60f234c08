"""The mock CAK: validates WMO405/407, answers with 406/408, keeps a register per person
(without BSNs) and invites correction on request or by its own rules."""

from __future__ import annotations

import time
from datetime import date, datetime

from connectors.cak import BerichtRef, Melding, Regeling, Soort, Voorziening, parse_retour, render_melding
from connectors.ggk import Heenbericht, Retourbericht, Systeem, new_referentienummer, parse_fo01
from connectors.ggk.soap import parse_soap_request
from connectors.istandaard.model_inbound import ClientKort, VerkorteNaam
from mocks.ggk import cak
from mocks.ggk.behaviour import ACCEPT
from tests.mocks.aanbieder_stand_in import BSN, GEMEENTE, Setup


def melding(soort: Soort = Soort.START, categorie: str = "02", kostprijs: int | None = None) -> Melding:
    return Melding(
        regeling=Regeling.EIGEN_BIJDRAGE,
        afzender="0637",
        bericht=BerichtRef(new_referentienummer()[:12], date(2026, 11, 23)),
        client=ClientKort(BSN, date(1950, 4, 1), "1", VerkorteNaam("Vries")),
        soort=soort,
        datum=date(2026, 12, 1) if soort is Soort.START else date(2027, 3, 31),
        voorzieningen=(
            Voorziening(7, "WMO-1", categorie, None, "ZIN", date(2026, 12, 1), kostprijs=kostprijs),
        ),
    )


def di01(m: Melding, payload: bytes | None = None) -> Heenbericht:
    return Heenbericht(
        zender=GEMEENTE,
        ontvanger=Systeem("CAK", "GGk"),
        referentienummer=new_referentienummer(),
        tijdstip=datetime.now(),
        functie=m.regeling.functie,
        payload=payload if payload is not None else render_melding(m),
        referentienummer_bericht=m.bericht.identificatie,
    )


def test_answer_is_a_wmo406_and_an_invalid_payload_a_fo01_with_stuf055() -> None:
    cak.make_router(None)  # type: ignore[arg-type] - a fresh register; the router is not mounted here
    h = di01(melding())
    answer = cak.answer(h, ACCEPT, now=datetime(2026, 11, 23, 12, 0))
    assert answer is not None and answer.operation == "ggk_Du01"
    envelope = parse_soap_request(answer.body, None).element
    assert envelope is not None
    [persoon] = cak.register().personen()
    assert persoon["status"] == "lopend" and BSN not in str(persoon)

    broken = cak.answer(di01(melding(), payload=b"<x/>"), ACCEPT, now=datetime(2026, 11, 23, 12, 0))
    assert broken is not None and broken.operation == "Fo01" and broken.outcome == "fo01_sent:StUF055"
    fo01 = parse_fo01(parse_soap_request(broken.body, None).element)
    assert fo01.code == "StUF055" and fo01.cross_ref and fo01.zender.organisatie == "CAK"


def _retour(mock: Setup, count: int) -> Retourbericht:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with mock.gateway.lock:
            if len(mock.gateway.du01s) >= count:
                return mock.gateway.du01s[count - 1]
        time.sleep(0.02)
    raise AssertionError(f"Du01 number {count} did not arrive")


def test_start_stop_register_rules_and_herstel_over_http(mock: Setup) -> None:
    start = di01(melding())
    mock.post_di01(start)
    ok = _retour(mock, 1)
    assert (ok.functie, ok.cross_refnummer, ok.zender.organisatie) == (
        "WMO406",
        start.referentienummer,
        "CAK",
    )
    assert parse_retour(ok.payload).all_codes() == ()
    [persoon] = mock.get("/_mock/cak/personen")
    assert persoon["status"] == "lopend" and persoon["persoon"].startswith("p-")

    # A second start while one runs: the CAK's own rule invites herstel (H004), nothing applied.
    mock.post_di01(di01(melding()))
    assert parse_retour(_retour(mock, 2).payload).herstel_codes() == ("H004",)

    # An invited herstel for the next message, whatever it is.
    invited = mock.http.post(f"{mock.base_url}/_mock/cak/herstel-volgende", json={"codes": ["H001"]})
    assert invited.status_code == 200, invited.text
    mock.post_di01(di01(melding(Soort.STOP)))
    assert parse_retour(_retour(mock, 3).payload).melding_codes == ("H001",)
    assert mock.get("/_mock/cak/personen")[0]["status"] == "lopend"

    mock.post_di01(di01(melding(Soort.STOP)))
    assert parse_retour(_retour(mock, 4).payload).all_codes() == ()
    [persoon] = mock.get("/_mock/cak/personen")
    assert (persoon["status"], persoon["einddatum"], persoon["meldingen"]) == ("gestopt", "2027-03-31", 2)
    received = mock.get("/_mock/cak/meldingen")
    assert [m["toegepast"] for m in received] == [True, False, False, True]
    assert BSN not in str(received)


def test_kostprijs_rule_and_the_reject_behaviour_for_the_cak(mock: Setup) -> None:
    mock.post_di01(di01(melding(categorie="13")))
    retour = parse_retour(_retour(mock, 1).payload)
    assert retour.voorziening_codes == {7: ("H002",)}
    behaviour = {"mode": "reject", "agb": "CAK", "times": 1, "level": "header", "retourcodes": ["0001"]}
    assert mock.http.put(f"{mock.base_url}/_mock/behaviour", json=behaviour).status_code == 200
    mock.post_di01(di01(melding(categorie="13", kostprijs=5000)))
    assert parse_retour(_retour(mock, 2).payload).header_codes == ("0001",)
    mock.post_di01(di01(melding(categorie="13", kostprijs=5000)))
    assert parse_retour(_retour(mock, 3).payload).all_codes() == ()
    bad = mock.http.post(f"{mock.base_url}/_mock/cak/herstel-volgende", json={"codes": ["h1"]})
    assert bad.status_code == 422
