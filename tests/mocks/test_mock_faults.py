"""The mock GGk's fault modes (``PUT /_mock/faults``), over real loopback HTTP.

Every share is set to 1.0 here, so each test sees its fault on every request; the
random mix is checked on the injector itself with a fixed seed.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import httpx
import pytest

from connectors.ggk import parse_soap_response
from mocks.ggk.faults import EXCLUSIVE, FaultInjector, Faults
from tests.mocks import test_mock_ggk
from tests.mocks.test_mock_ggk import BSN, Setup, di01, jw301, retour_of

#: The mock GGk with a callback receiver, as its own tests use it.
ggk = test_mock_ggk.ggk


def _faults(ggk: Setup, **faults: object) -> dict[str, object]:
    response = ggk.http.put(f"{ggk.base_url}/_mock/faults", json=faults)
    assert response.status_code == 200, response.text
    state: dict[str, object] = response.json()
    return state


def _heal(ggk: Setup) -> None:
    assert ggk.http.delete(f"{ggk.base_url}/_mock/faults").status_code == 200


def _answer(response: httpx.Response) -> tuple[int, str, str | None, bool]:
    answer = parse_soap_response(response.status_code, response.content)
    return response.status_code, answer.kind, answer.code, answer.retryable


def test_error_5xx_refuses_without_taking_the_message_in(ggk: Setup) -> None:
    _faults(ggk, error_5xx=1.0, statuses=[502])
    h = di01()
    assert _answer(ggk.send(h)) == (502, "fault", "soap:Server", True)
    assert ggk.record(h.referentienummer)["outcome"] == "failed:502"
    _heal(ggk)
    # Not taken in, so the re-send with the same referentienummer is accepted, not IB016.
    assert _answer(ggk.send(h))[1] == "bv03"
    ggk.receiver.wait_for(1)
    assert ggk.record(h.referentienummer, "retour_sent")["times_seen"] == 2


def test_ggk_error_answers_the_configured_code(ggk: Setup) -> None:
    _faults(ggk, ggk_error=1.0, ggk_codes=["IB103"])
    assert _answer(ggk.send(di01())) == (500, "fo03", "IB103", True)
    _faults(ggk, ggk_error=1.0, ggk_codes=["IB102"])
    assert _answer(ggk.send(di01())) == (500, "fo03", "IB102", False)


def test_timeout_takes_the_message_in_and_stalls_past_the_client(ggk: Setup) -> None:
    _faults(ggk, timeout=1.0, timeout_s=2.0)
    h = di01()
    with pytest.raises(httpx.ReadTimeout):
        ggk.send(h, timeout=0.3)
    ((_, body),) = ggk.receiver.wait_for(1)  # taken in: the retour follows
    assert retour_of(body).cross_refnummer == h.referentienummer
    _heal(ggk)
    assert _answer(ggk.send(h))[:3] == (500, "fo03", "IB016")  # the re-send is a duplicate
    record = ggk.record(h.referentienummer)
    assert record["times_seen"] == 2 and record["accepted"] is True


def test_drop_closes_the_connection_without_an_answer_after_taking_the_message_in(ggk: Setup) -> None:
    _faults(ggk, drop=1.0)
    h = di01()
    with pytest.raises(httpx.RemoteProtocolError):
        ggk.send(h)
    ((_, body),) = ggk.receiver.wait_for(1)
    assert retour_of(body).cross_refnummer == h.referentienummer
    _heal(ggk)
    assert _answer(ggk.send(h))[:3] == (500, "fo03", "IB016")
    # The server survived the hang-up and still answers other messages.
    assert _answer(ggk.send(di01()))[1] == "bv03"


def test_slow_answers_bv03_late(ggk: Setup) -> None:
    _faults(ggk, slow=1.0, slow_s=1.0)
    with pytest.raises(httpx.ReadTimeout):
        ggk.send(di01(), timeout=0.2)
    assert _answer(ggk.send(di01(), timeout=10))[1] == "bv03"


def test_duplicate_retour_posts_the_same_du01_twice(ggk: Setup) -> None:
    _faults(ggk, duplicate_retour=1.0)
    h = di01()
    assert _answer(ggk.send(h))[1] == "bv03"
    (_, first), (_, second) = ggk.receiver.wait_for(2)
    assert first == second  # byte for byte: same referentienummer, so the gemeente can deduplicate
    assert retour_of(first).cross_refnummer == h.referentienummer
    record = ggk.record(h.referentienummer, "retour_sent")
    assert record["retours_delivered"] == 2
    assert record["retour_referentienummer"] == retour_of(first).referentienummer


def test_faults_can_be_limited_to_one_aanbieder(ggk: Setup) -> None:
    _faults(ggk, error_5xx=1.0, agb="99990002")
    status, kind, _code, _retryable = _answer(ggk.send(di01("99990002")))
    assert (status >= 500, kind) == (True, "fault")
    assert _answer(ggk.send(di01("99990001")))[1] == "bv03"


def test_faults_come_before_a_behaviour_rule_and_do_not_use_it_up(ggk: Setup) -> None:
    ggk.behave(mode="reject", times=1)
    _faults(ggk, ggk_error=1.0)
    assert _answer(ggk.send(di01()))[2] == "IB103"
    _heal(ggk)
    assert _answer(ggk.send(di01()))[1] == "bv03"
    ((_, body),) = ggk.receiver.wait_for(1)
    assert b"0001" in retour_of(body).payload  # the reject rule applied to the first message taken in


def test_the_ledger_records_every_di01_with_its_payload_digest_and_no_bsn(ggk: Setup) -> None:
    payload = jw301()
    h = di01(payload=payload)
    ggk.send(h)
    ggk.send(h)
    record = ggk.record(h.referentienummer)
    assert record["times_seen"] == 2
    assert record["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert record["bericht_identificatie"] == h.referentienummer_bericht == "TW2026000001"
    assert BSN not in json.dumps(ggk.received())


def test_the_faults_endpoint_shows_the_rules_and_counts_and_reset_clears_them(ggk: Setup) -> None:
    _faults(ggk, seed=3, ggk_error=1.0)
    ggk.send(di01())
    ggk.send(di01())
    state = ggk.http.get(f"{ggk.base_url}/_mock/faults").json()
    assert state["faults"]["ggk_error"] == 1.0 and state["faults"]["seed"] == 3
    assert state["drawn"] == 2 and state["injected"]["ggk_error"] == 2
    _heal(ggk)
    healed = ggk.http.get(f"{ggk.base_url}/_mock/faults").json()
    assert healed["faults"]["ggk_error"] == 0 and healed["injected"]["ggk_error"] == 2
    ggk.http.post(f"{ggk.base_url}/_mock/reset")
    assert ggk.http.get(f"{ggk.base_url}/_mock/faults").json()["injected"]["ggk_error"] == 0


@pytest.mark.parametrize(
    "faults",
    [
        {"error_5xx": 0.6, "timeout": 0.6},
        {"drop": 1.5},
        {"error_5xx": 0.1, "statuses": [404]},
        {"ggk_error": 0.1, "ggk_codes": []},
        {"unknown_fault": 0.1},
    ],
)
def test_impossible_faults_are_refused(ggk: Setup, faults: dict[str, object]) -> None:
    response = ggk.http.put(f"{ggk.base_url}/_mock/faults", json=faults)
    assert response.status_code == 422


def test_the_draws_follow_the_shares_and_the_seed() -> None:
    faults = Faults(
        seed=42, error_5xx=0.1, ggk_error=0.1, timeout=0.1, drop=0.1, slow=0.1, duplicate_retour=0.2
    )
    first = FaultInjector(faults)
    draws = [first.draw("99990001") for _ in range(5000)]
    counts = Counter(d.kind for d in draws)
    for kind in EXCLUSIVE:
        assert 400 <= counts[kind] <= 600, counts  # 10 % of 5000, well within chance
    assert 2000 <= counts[None] <= 3000
    twice = sum(d.duplicate_retour for d in draws)
    taken_in = sum(d.takes_in for d in draws)
    assert 0.15 * taken_in <= twice <= 0.25 * taken_in  # only a message taken in is answered
    again = FaultInjector(faults)
    assert [again.draw("99990001") for _ in range(5000)] == draws  # same seed, same run
    assert first.state()["injected"]["drop"] == counts["drop"]
