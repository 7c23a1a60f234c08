"""Every published heenbericht example an aanbieder sends reaches the gateway and is answered.

The examples (iJw and iWmo 3.2: 305, 307, 315, 317, 323) come from the published
reference, outside the project; they are sent by the mock aanbieder 99990001 over real
loopback HTTP with only the header's Afzender/Ontvanger rewritten to the mock AGB and
our gemeente. The rules may well refuse their content (an unknown toewijzing, 9019 ...):
what matters is that each gets a *retour*, not a Fo01 - except ``jw315.xml``, whose
``ToewijzingEinddatum`` is the non-date 2027-06-31 (a known defect of the publication),
which must be refused asynchronously with a Fo01 StUF055 naming that element.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from connectors.istandaard import Law
from connectors.xml_input import parse_xml
from connectors.xsd import load_schema, violations
from gateway.store.tables import InboundMessage, Message
from tests.conftest import REFERENCE
from tests.gateway.stack import Stack, running_stack

AGB = "99990001"
GEMEENTE = "0637"
EXAMPLES = REFERENCE / "istandaarden"
FOLDER = {Law.JEUGDWET: "ijw-3.2", Law.WMO: "iwmo-3.2"}
#: The known-defective example and the element its Fo01 must name.
DEFECTIVE = {"jw315.xml": "ToewijzingEinddatum"}
CASES = [(law, number) for law in (Law.JEUGDWET, Law.WMO) for number in (305, 307, 315, 317, 323)]


def _example(law: Law, number: int) -> Path:
    return EXAMPLES / FOLDER[law] / "examples" / f"{law.message_prefix}{number}.xml"


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    if not EXAMPLES.is_dir():
        pytest.skip(f"the published iJw/iWmo examples are absent: {EXAMPLES.resolve()} does not exist")
    with running_stack(database_url, tmp_path) as running:
        yield running


def as_sent_by_the_mock(xml: bytes) -> tuple[str, str]:
    """The example with Afzender = the mock AGB and Ontvanger = our gemeente; and its Identificatie."""
    root = parse_xml(xml)
    [header] = [child for child in root if etree.QName(child).localname == "Header"]
    identificatie = ""
    for element in header.iter():
        name = etree.QName(element).localname
        if name == "Afzender":
            element.text = AGB
        elif name == "Ontvanger":
            element.text = GEMEENTE
        elif name == "Identificatie":
            identificatie = element.text or ""
    payload = etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")
    return payload, identificatie


def stored(stack: Stack, referentienummer: str) -> tuple[InboundMessage, Message]:
    """The inbound row of the example and the answer the gateway sent for it."""
    with stack.runtime.sessions() as session:
        inbound = session.scalars(
            select(InboundMessage).where(InboundMessage.referentienummer == referentienummer)
        ).one()
        assert inbound.answer_message_id is not None, f"no answer stored ({inbound.status}: {inbound.error})"
        answer = session.get(Message, inbound.answer_message_id)
        assert answer is not None
        session.expunge_all()
        return inbound, answer


@pytest.mark.parametrize(("law", "number"), CASES, ids=[f"{law.message_prefix}{n}" for law, n in CASES])
def test_published_example_gets_an_answer(stack: Stack, law: Law, number: int) -> None:
    path = _example(law, number)
    if not path.is_file():
        pytest.skip(f"the published example {path.name} is absent from {path.parent.resolve()}")
    payload, identificatie = as_sent_by_the_mock(path.read_bytes())
    sent = stack.aanbieder_send(
        AGB, {"functie": law.function_name(number), "raw_payload": payload, "gemeentecode": GEMEENTE}
    )
    assert (sent["status_code"], sent["answer"]) == (200, "bv03"), sent  # the envelope is fine
    answer: dict[str, Any] = stack.aanbieder_answer(sent["referentienummer"])
    inbound, message = stored(stack, sent["referentienummer"])
    content = answer["content"]

    defective = DEFECTIVE.get(path.name)
    if defective is not None:
        assert answer["operation"] == "Fo01" and content["kind"] == "fo01", answer
        assert content["code"] == "StUF055"
        assert inbound.status == "invalid" and inbound.error is not None and defective in inbound.error
        return

    retour_number = 325 if number == 323 else number + 1
    assert answer["operation"] == "ggk_Du01", f"{path.name} got {answer['operation']}: {content}"
    assert answer["functie"] == law.function_name(retour_number)
    assert inbound.status in ("accepted", "refused"), (inbound.status, inbound.error)
    if number == 323:
        assert content["kind"] == "declaratie_antwoord"
        assert content["declaratie_identificatie"] == identificatie
    else:
        assert content["kind"] == "retour" and content["number"] == retour_number
        assert content["bericht_identificatie"] == identificatie
    if law is Law.JEUGDWET:  # the iWmo retour XSDs are not published
        schema = load_schema(f"ijw-3.2/jw{retour_number}.xsd", base_dir=EXAMPLES)
        found = violations(schema, parse_xml(message.payload))
        assert found == [], f"our JW{retour_number} fails the published XSD: {found}"
