"""Traffic for the console tests: messages answered, rejected and parked, over real HTTP.

Beschikkingen go in through the back-office API; the mock GGk (``PUT /_mock/behaviour``)
rejects one at product level with a retourcode and refuses others with a permanent Fo03
(IB102, no routing known), which parks them. The console then has something to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select

from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.ops_tables import Operator
from tests.conftest import beschikking_body
from tests.gateway.stack import Stack

PASSWORD = "console-test-password"
#: One of each role.
OPERATORS = {"olga": "operator", "victor": "viewer", "priya": "privacy_officer"}
#: The client of the parked messages (a test BSN, 11-proef valid).
PARKED_BSN = "999900018"


@dataclass
class Traffic:
    answered: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)
    beschikkingnummers: dict[int, str] = field(default_factory=dict)


@cache
def _password_hash() -> str:
    """Argon2id is slow on purpose: hash the shared test password once per test session."""
    return PasswordHasher().hash(PASSWORD)


def add_operators(runtime: Runtime, *names: str) -> None:
    """The test operators (all, or those named), each with :data:`PASSWORD`.

    Stored as rows with one cached Argon2id hash, which
    :func:`gateway.ops.operators.login` verifies like any other.
    """
    with transaction(runtime.sessions) as session:
        for name, role in OPERATORS.items():
            if names and name not in names:
                continue
            if session.scalar(select(Operator.id).where(Operator.name == name)) is not None:
                continue
            session.add(
                Operator(
                    name=name,
                    password_hash=_password_hash(),
                    role=role,
                    active=True,
                    created_at=runtime.clock.now(),
                )
            )


def _client(bsn: str, achternaam: str) -> dict[str, Any]:
    return {
        "bsn": bsn,
        "geboortedatum": "2014-03-21",
        "geslacht": "2",
        "naam": {"achternaam": achternaam, "voornamen": "Sanne", "voorletters": "S"},
        "adres": {"straatnaam": "Markt", "huisnummer": 1, "postcode": "2711AA", "plaatsnaam": "Zoetermeer"},
    }


def jeugd_body(agb: str, bsn: str, code: str = "45A08") -> dict[str, Any]:
    return beschikking_body(
        client=_client(bsn, "Jansen"),
        producten=[
            {
                "categorie": code[:2],
                "code": code,
                "aanbieder_agb": agb,
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            }
        ],
    )


def wmo_body(agb: str, bsn: str) -> dict[str, Any]:
    return beschikking_body(
        wet="wmo",
        beschikkingnummer=f"WMO-{bsn[-4:]}-{agb[-2:]}",
        client=_client(bsn, "de Vries"),
        producten=[
            {
                "categorie": "02",
                "code": "02A01",
                "aanbieder_agb": agb,
                "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
            }
        ],
    )


def _start_of_care(stack: Stack, body: dict[str, Any], message_id: int, begindatum: str) -> None:
    """The mock aanbieder sends a JW305 for the 301's toewijzing, and gets its JW306."""
    [nummer] = stack.bericht(message_id)["toewijzingnummers"]
    product = body["producten"][0]
    client = dict(body["client"])
    client.pop("adres", None)
    sent = stack.aanbieder_send(
        product["aanbieder_agb"],
        {
            "functie": "JW305",
            "bericht": {
                "client": client,
                "producten": [
                    {
                        "toewijzingnummer": nummer,
                        "begindatum": begindatum,
                        "status_aanlevering": "1",
                        "product": {"categorie": product["categorie"], "code": product["code"]},
                    }
                ],
            },
        },
    )
    assert sent["answer"] == "bv03", sent
    stack.aanbieder_answer(sent["referentienummer"])


def produce_traffic(stack: Stack) -> Traffic:
    """Three answered, one rejected (retourcode 8001), two parked (Fo03 IB102)."""
    traffic = Traffic()

    def post(body: dict[str, Any]) -> int:
        result = stack.post_beschikking(body)
        message_id = int(result["berichten"][0]["id"])
        traffic.beschikkingnummers[message_id] = str(result["beschikkingnummer"])
        return message_id

    for body, start in (
        (jeugd_body("99990001", "999900006"), "2026-12-01"),
        (wmo_body("99990004", "999900031"), None),
        (jeugd_body("99990005", "999900043"), "2026-12-08"),
    ):
        message_id = post(body)
        stack.wait_for_state(message_id, "answered")
        traffic.answered.append(message_id)
        if start is not None:  # the aanbieder reports the start of care: the reports' waiting time
            _start_of_care(stack, body, message_id, start)

    stack.behave(mode="reject", agb="99990002", level="product", retourcodes=["8001"], times=1)
    message_id = post(jeugd_body("99990002", "999900055"))
    stack.wait_for_state(message_id, "rejected")
    traffic.rejected.append(message_id)

    stack.behave(mode="ggk_error", agb="99990003", ggk_code="IB102", times=2)
    for body in (jeugd_body("99990003", PARKED_BSN), wmo_body("99990003", PARKED_BSN)):
        message_id = post(body)
        stack.wait_for_state(message_id, "parked")
        traffic.parked.append(message_id)
    return traffic
