"""No BSN leaves the gateway through a log line, an error text or an API error.

The representative flows run over real HTTP with production logging (JSON lines) and
everything written to stdout/stderr is captured at the file-descriptor level, so
uvicorn's, the mock's and the worker's output all count. The stored error texts and
every problem+json body are scanned too. The flows demonstrably carry the test BSNs
(they are in the stored payloads), so a leak anywhere would be seen.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import select

from connectors.ggk import (
    Retourbericht,
    Systeem,
    new_referentienummer,
    render_du01,
    soap_headers,
    soap_request,
)
from connectors.istandaard import parse_toewijzing, render_toewijzing_retour
from gateway.bsn import keyed_hash, mask, mask_in_text, passes_elfproef
from gateway.log_setup import configure_logging
from gateway.store.tables import DeliveryAttempt, InboundMessage, Message
from tests.conftest import AUTH, BSN, beschikking_body
from tests.gateway.stack import Stack, running_stack

OTHER_BSN = "999900018"
TEST_BSNS = (BSN, OTHER_BSN)
VALID_TEST_BSNS = ("999900006", "999900018", "999900031", "999900043", "999900055")

_NINE_DIGITS = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")
#: Identifiers that are hex, not decimal: a digit run inside them is no BSN (UUIDs, hashes).
_HEX_IDS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    # Not \b: an underscore is a word character, and the ebMS boundary "----=_Part_<hex>"
    # then hid its hex from this mask (a flaky hit on a digit run inside it).
    r"|(?<![0-9A-Za-z])[0-9a-f]{16,}(?![0-9A-Za-z])"
)


def bsn_leaks(text: str) -> list[str]:
    """Every 11-proef-valid 9-digit number in ``text``, plus any literal test BSN."""
    found = [n for n in _NINE_DIGITS.findall(_HEX_IDS.sub("<id>", text)) if passes_elfproef(n)]
    # The test BSNs are searched literally as well, so not even a hex id may hide them.
    found += [bsn for bsn in TEST_BSNS if re.search(rf"(?<![0-9]){bsn}(?![0-9])", text) and bsn not in found]
    return found


# --- gateway.bsn ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", VALID_TEST_BSNS)
def test_elfproef_accepts_the_test_bsns(value: str) -> None:
    assert passes_elfproef(value)


@pytest.mark.parametrize(
    "value", ["999900007", "000000000", "12345678", "1234567890", "99990000a", "abcdefghi", "", " 999900006"]
)
def test_elfproef_rejects(value: str) -> None:
    assert not passes_elfproef(value)


def test_mask_keeps_only_the_last_four_digits() -> None:
    assert mask("999900006") == "*****0006"


def test_mask_in_text_masks_valid_bsns_only() -> None:
    text = "bsn=999900006, other 999900018; id 999900007 agb 99990001 ref 9999000061 amount 123456789"
    masked = mask_in_text(text)
    assert masked == (
        "bsn=*****0006, other *****0018; id 999900007 agb 99990001 ref 9999000061 amount 123456789"
    )
    assert bsn_leaks(masked) == []


def test_mask_in_text_finds_bsns_next_to_letters_and_markup() -> None:
    masked = mask_in_text("<Bsn>999900031</Bsn> x999900043y '999900055'")
    assert masked == "<Bsn>*****0031</Bsn> x*****0043y '*****0055'"


def test_the_scanner_of_this_module_finds_what_it_must() -> None:
    # The leak check below is only as good as this function.
    assert bsn_leaks('{"event": "x", "bsn": "999900043"}') == ["999900043"]
    assert bsn_leaks("ref 3f2a999900018b1c") == [OTHER_BSN]  # the test BSNs even inside hex ids
    assert bsn_leaks("ref 12345678-1234-4234-8234-999900006abc") == [BSN]
    assert bsn_leaks(f"ref {uuid.uuid4()} 999900007 9999000061") == []
    assert bsn_leaks("*****0006 99990001 2026-11-22T10:05:33.930635Z") == []


def test_keyed_hash_is_stable_and_depends_on_the_key() -> None:
    first = keyed_hash(BSN, b"key-one")
    assert first == keyed_hash(BSN, b"key-one")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != keyed_hash(BSN, b"key-two")
    assert first != keyed_hash(OTHER_BSN, b"key-one")
    assert BSN not in first


# --- the flows ------------------------------------------------------------------------------------


@pytest.fixture
def json_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[], pytest.CaptureFixture[str]]]:
    """Production logging (JSON lines, DEBUG) for one test, then the previous set-up back.

    The test calls the returned function first thing: logging binds the ``sys.stderr``
    of that moment, and pytest gives the test's call phase its own capture stream.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def start() -> pytest.CaptureFixture[str]:
        configure_logging("DEBUG", json=True)
        return capfd

    try:
        yield start
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level


@dataclass
class Observed:
    """What the flows exposed: responses that are not for the back-office's eyes only."""

    problem_bodies: list[str] = field(default_factory=list)
    soap_replies: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)


_YEARS = itertools.count(2030)


def _with_bsn(bsn: str) -> dict[str, Any]:
    """A beschikking for ``bsn`` in a period of its own (overlapping ones are refused, TR302)."""
    body: dict[str, Any] = copy.deepcopy(beschikking_body())
    body["client"]["bsn"] = bsn
    year = next(_YEARS)
    body["periode"] = {"begindatum": f"{year}-01-01", "einddatum": f"{year}-06-30"}
    return body


def _post(stack: Stack, bsn: str) -> int:
    message_id: int = stack.post_beschikking(_with_bsn(bsn))["berichten"][0]["id"]
    return message_id


def _du01(cross_ref: str, payload: bytes) -> bytes:
    envelope = render_du01(
        Retourbericht(
            zender=Systeem("99990001", "MockAanbieder"),
            ontvanger=Systeem("0637", "GGk"),
            referentienummer=new_referentienummer(),
            cross_refnummer=cross_ref,
            tijdstip=datetime.now(UTC).replace(tzinfo=None),
            functie="JW302",
            payload=payload,
        )
    )
    body, _headers = soap_request(envelope, "ggk_Du01")
    return body


def _retour_with_client(stack: Stack, message_id: int) -> bytes:
    """A valid JW302 for the message that repeats the client block (so it holds the BSN)."""
    with stack.runtime.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None
        heen = parse_toewijzing(message.payload)
    retour = render_toewijzing_retour(
        heen, identificatie_retour="R1", dagtekening_retour=datetime.now().date(), product_codes={}
    )
    assert heen.client.bsn.encode() in retour
    return retour


def _soap(stack: Stack, observed: Observed, body: bytes, expect: int, operation: str = "ggk_Du01") -> None:
    response = stack.api.post("/ggk/soap", content=body, headers=soap_headers(operation))  # type: ignore[arg-type]
    assert response.status_code == expect, response.text
    observed.soap_replies.append(response.text)


def _bad_api_input(stack: Stack, observed: Observed) -> None:
    def post(body: Any, expect: int = 422, raw: bytes | None = None) -> None:
        if raw is not None:
            headers = {**AUTH, "Content-Type": "application/json"}
            response = stack.api.post("/api/v1/beschikkingen", content=raw, headers=headers)
        else:
            response = stack.api.post("/api/v1/beschikkingen", json=body, headers=AUTH)
        assert response.status_code == expect, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        observed.problem_bodies.append(response.text)

    invalid = _with_bsn("999900007")  # fails the 11-proef
    post(invalid)
    assert "999900007" not in observed.problem_bodies[-1]  # input is never echoed
    assert "client.bsn" in observed.problem_bodies[-1]

    bad_postcode = _with_bsn(OTHER_BSN)
    bad_postcode["client"]["adres"]["postcode"] = "nope"
    post(bad_postcode)
    as_number = _with_bsn(OTHER_BSN)
    as_number["client"]["bsn"] = int(OTHER_BSN)
    post(as_number)
    bsn_as_date = _with_bsn(OTHER_BSN)
    bsn_as_date["client"]["geboortedatum"] = OTHER_BSN
    post(bsn_as_date)
    bsn_in_the_wrong_field = _with_bsn(BSN)
    bsn_in_the_wrong_field["client"]["naam"]["achternaam"] = {"bsn": BSN}
    post(bsn_in_the_wrong_field)
    post(None, expect=400, raw=json.dumps(_with_bsn(OTHER_BSN)).encode()[:-40])  # truncated JSON
    keyed_by_bsn = _with_bsn(BSN)
    keyed_by_bsn["client"][OTHER_BSN] = "a mapping keyed by BSN"  # the key is echoed as the field
    post(keyed_by_bsn)
    assert "*****0018" in observed.problem_bodies[-1]


def run_flows(stack: Stack) -> Observed:
    observed = Observed()

    # accepted and answered
    observed.ids["answered"] = _post(stack, BSN)
    stack.wait_for_state(observed.ids["answered"], "answered")

    # rejected at product level
    stack.behave(mode="reject", level="product", retourcodes=["8001"], times=1)
    observed.ids["rejected"] = _post(stack, OTHER_BSN)
    stack.wait_for_state(observed.ids["rejected"], "rejected")

    # a 503, retried
    stack.behave(mode="fail", status=503, times=1)
    observed.ids["retried"] = _post(stack, OTHER_BSN)
    detail = stack.wait_for_state(observed.ids["retried"], "answered")
    assert [a["outcome"] for a in detail["attempt_log"]] == ["retryable", "delivered"]

    # a permanent GGk error: parked
    stack.behave(mode="ggk_error", ggk_code="IB002", times=1)
    observed.ids["parked"] = _post(stack, BSN)
    stack.wait_for_state(observed.ids["parked"], "parked")

    # delivered, but the retour that comes back is invalid; then a retour nobody asked for
    stack.behave(mode="no_retour", times=1)
    observed.ids["delivered"] = _post(stack, OTHER_BSN)
    delivered = stack.wait_for_state(observed.ids["delivered"], "delivered")
    retour = _retour_with_client(stack, observed.ids["delivered"])
    # The client's birth date (from beschikking_body) replaced by the BSN: an XSD error
    # message that quotes the offending value would carry the BSN.
    assert retour.count(b">2014-03-21<") == 1
    broken = retour.replace(b">2014-03-21<", b">" + OTHER_BSN.encode() + b"<")
    _soap(stack, observed, _du01(delivered["referentienummer"], broken), expect=500)
    _soap(stack, observed, _du01(str(uuid.uuid4()), retour), expect=200)  # unmatched
    _soap(stack, observed, b"<soap:Envelope>" + OTHER_BSN.encode(), expect=500)
    _soap(stack, observed, _du01(OTHER_BSN, retour), expect=500)  # a BSN as cross-reference

    _bad_api_input(stack, observed)
    return observed


def _stored_error_texts(stack: Stack) -> list[str]:
    with stack.runtime.sessions() as session:
        texts = list(session.scalars(select(Message.last_error)))
        texts += list(session.scalars(select(DeliveryAttempt.detail)))
        texts += list(session.scalars(select(InboundMessage.error)))
    return [t for t in texts if t]


def _stored_payloads(stack: Stack) -> bytes:
    with stack.runtime.sessions() as session:
        return b"".join(session.scalars(select(Message.payload)))


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_no_bsn_in_logs_errors_or_problems(
    database_url: str, tmp_path: Path, json_logs: Callable[[], pytest.CaptureFixture[str]]
) -> None:
    capture = json_logs()
    with running_stack(database_url, tmp_path) as stack:
        observed = run_flows(stack)
        stored_errors = _stored_error_texts(stack)
        payloads = _stored_payloads(stack)
    captured = capture.readouterr()
    output = captured.out + captured.err

    # The flows really handled both BSNs, and the capture really saw the gateway's logs.
    assert BSN.encode() in payloads and OTHER_BSN.encode() in payloads
    events = {line.get("event") for line in _json_lines(output)}
    assert {"beschikking_accepted", "delivery_attempt", "retour_received"} <= events
    assert any("IB002" in t for t in stored_errors)  # the park's reason was stored
    # The BSN reached the error texts (XSD message, envelope check) and was masked there.
    assert "*****0018" in "\n".join(stored_errors)
    assert "*****0018" in output
    assert len(observed.problem_bodies) >= 5

    leaks = {
        "stdout/stderr": bsn_leaks(output),
        "stored error texts": bsn_leaks("\n".join(stored_errors)),
        "problem+json bodies": bsn_leaks("\n".join(observed.problem_bodies)),
        "SOAP faults and answers": bsn_leaks("\n".join(observed.soap_replies)),
    }
    assert {where: found for where, found in leaks.items() if found} == {}


def test_json_log_lines_carry_stable_event_names_and_the_message_id(
    database_url: str, tmp_path: Path, json_logs: Callable[[], pytest.CaptureFixture[str]]
) -> None:
    capture = json_logs()
    with running_stack(database_url, tmp_path) as stack:
        message_id = _post(stack, BSN)
        stack.wait_for_state(message_id, "answered")
    lines = _json_lines(capture.readouterr().err)

    def one(event: str) -> dict[str, Any]:
        found = [line for line in lines if line.get("event") == event]
        assert found, f"no {event!r} line in {[line.get('event') for line in lines]}"
        return found[0]

    accepted = one("beschikking_accepted")
    assert accepted["messages"] == [message_id]
    attempt = one("delivery_attempt")
    assert attempt["message_id"] == message_id
    assert attempt["outcome"] == "delivered"
    retour = one("retour_received")
    assert retour["message_id"] == message_id
    for line in (accepted, attempt, retour):
        assert line["level"] == "info"
        assert datetime.fromisoformat(line["timestamp"]).tzinfo is not None
