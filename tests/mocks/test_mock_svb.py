"""The mock SVB behind the mock GGk: TKB retours, budgets, BABs at period end, fault injection.

The gateway is the recording stand-in of ``aanbieder_stand_in``: it gets the mock's
Du01s (TKB retours), Fo01s and Di01s (BABs), and answers Bv03.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

from connectors.ggk import Heenbericht, Systeem, new_referentienummer
from connectors.istandaard import Law
from connectors.istandaard.model import Naam
from connectors.svb import (
    SVB,
    Hulpverlener,
    Mutatie,
    PgbClient,
    PgbHeader,
    Toekenning,
    Toekenningsbericht,
    parse_bab,
    parse_tkb_retour,
    render_bab_retour,
    render_tkb,
)
from tests.mocks.aanbieder_stand_in import BSN, GEMEENTE, Setup


def tkb(
    law: Law, nummer: int, mutatie: Mutatie = Mutatie.TOEKENNING, einde: date = date(2027, 5, 31)
) -> bytes:
    categorie = "03" if law is Law.WMO else "45"
    return render_tkb(
        Toekenningsbericht(
            header=PgbHeader(law, "0637", SVB, f"T{nummer}{mutatie.value}", date(2026, 11, 22)),
            client=PgbClient(BSN, date(1950, 1, 1), "1", Naam(achternaam="Bakker")),
            toekenning=Toekenning(
                toewijzingnummer=nummer,
                mutatie=mutatie,
                beschikkingnummer="B-1",
                categorie=categorie,
                code=None,
                hulpverlener=Hulpverlener.PROFESSIONEEL,
                budget=100_000,
                begindatum=date(2026, 12, 1),
                einddatum=einde,
                toekenningsdatum=date(2026, 11, 22),
            ),
        )
    )


def send_tkb(mock: Setup, law: Law, payload: bytes) -> Heenbericht:
    functie = "WMO458" if law is Law.WMO else "JW460"
    h = Heenbericht(
        zender=GEMEENTE,
        ontvanger=Systeem(organisatie=SVB, applicatie="GGk"),
        referentienummer=new_referentienummer(),
        tijdstip=datetime.now(),
        functie=functie,
        payload=payload,
    )
    before = len(mock.gateway.du01s)
    mock.post_di01(h)
    deadline = time.monotonic() + 10
    while len(mock.gateway.du01s) <= before:
        assert time.monotonic() < deadline, "no TKB retour"
        time.sleep(0.02)
    return h


def last_retour_codes(mock: Setup) -> tuple[str, list[str]]:
    du01 = mock.gateway.du01s[-1]
    return du01.functie, parse_tkb_retour(du01.payload).all_codes()


def test_accepts_a_tkb_keeps_the_budget_and_applies_changes(mock: Setup) -> None:
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 11))
    du01 = mock.gateway.du01s[-1]
    assert (du01.zender.organisatie, du01.ontvanger.organisatie) == (SVB, "0637")
    assert last_retour_codes(mock) == ("WMO459", [])
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 11, Mutatie.WIJZIGING, einde=date(2027, 2, 28)))
    [budget] = mock.get("/_mock/svb/budgetten")
    assert budget["toewijzingnummer"] == 11 and budget["einddatum"] == "2027-02-28"
    assert budget["mutaties"] == 2 and budget["status"] == "lopend"
    assert "bsn" not in budget and BSN not in str(budget)
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 11, Mutatie.INTREKKING))
    assert mock.get("/_mock/svb/budgetten")[0]["status"] == "ingetrokken"


def test_a_change_to_an_unknown_budget_gets_p012(mock: Setup) -> None:
    send_tkb(mock, Law.JEUGDWET, tkb(Law.JEUGDWET, 12, Mutatie.WIJZIGING))
    assert last_retour_codes(mock) == ("JW461", ["0200", "P012"])


def test_reject_with_chosen_codes_for_the_svb(mock: Setup) -> None:
    response = mock.http.put(
        f"{mock.base_url}/_mock/behaviour",
        json={"mode": "reject", "agb": "SVB", "times": 1, "level": "product", "retourcodes": ["P011"]},
    )
    assert response.status_code == 200, response.text
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 13))
    assert last_retour_codes(mock) == ("WMO459", ["0200", "P011"])
    assert mock.get("/_mock/svb/budgetten") == []  # a refused TKB is not kept
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 13))
    assert last_retour_codes(mock) == ("WMO459", [])


def test_a_tkb_failing_its_xsd_earns_a_fo01_stuf055(mock: Setup) -> None:
    bad = tkb(Law.WMO, 14).replace(b"<tkb:Budget>100000<", b"<tkb:Budget>-5<")
    h = Heenbericht(
        zender=GEMEENTE,
        ontvanger=Systeem(organisatie=SVB, applicatie="GGk"),
        referentienummer=new_referentienummer(),
        tijdstip=datetime.now(),
        functie="WMO458",
        payload=bad,
    )
    mock.post_di01(h)
    deadline = time.monotonic() + 10
    while mock.gateway.fo01s == 0:
        assert time.monotonic() < deadline, "no Fo01"
        time.sleep(0.02)
    # The mock records the outcome just after its Fo01 went out: wait for that write too.
    while True:
        received = {r["referentienummer"]: r for r in mock.get("/_mock/received")}
        if received[h.referentienummer]["outcome"] != "accepted" or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert received[h.referentienummer]["outcome"] == "fo01_sent:StUF055"


def test_afsluiten_sends_one_bab_per_client_and_records_the_retour(mock: Setup) -> None:
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 21, einde=date(2027, 3, 31)))
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 22, einde=date(2027, 5, 31)))
    send_tkb(mock, Law.WMO, tkb(Law.WMO, 23, einde=date(2027, 12, 31)))  # not ended yet
    response = mock.http.post(
        f"{mock.base_url}/_mock/svb/afsluiten", json={"tot": "2027-05-31", "besteed_percentage": 75}
    )
    assert response.status_code == 200, response.text
    [sent] = response.json()["verzonden"]
    assert (sent["functie"], sent["answer"], sent["toewijzingnummers"]) == ("WMO464", "bv03", [21, 22])
    h = mock.gateway.last()
    assert (h.zender.organisatie, h.ontvanger.organisatie, h.functie) == (SVB, "0637", "WMO464")
    bab = parse_bab(h.payload)
    assert bab.header.afzender == SVB and bab.bsn == BSN
    assert [(a.toegekend, a.besteed, a.resterend) for a in bab.afsluitingen] == [
        (100_000, 75_000, 25_000)
    ] * 2
    # Nothing closes twice.
    again = mock.http.post(f"{mock.base_url}/_mock/svb/afsluiten", json={"tot": "2027-05-31"})
    assert again.json() == {"verzonden": []}
    # The gateway answers with its BAB retour; the mock SVB records it.
    retour = render_bab_retour(
        bab, identificatie_retour="77", dagtekening_retour=date(2027, 6, 1), afsluiting_codes={22: ["P003"]}
    )
    mock.post_du01(h, "WMO465", retour)
    [record] = mock.get("/_mock/svb/bab")
    found: dict[str, Any] = record["retour"]
    assert found["codes"] == ["0200", "P003"] and found["afsluiting_codes"] == {
        "21": ["0200"],
        "22": ["P003"],
    }
