"""A retour's codes per toewijzing are stored on the message's links (Core path of issue 7).

``_store_product_codes`` replaced loading the links as ORM objects and setting each one's
codes; these tests hold it to exactly what that did: a link named in the retour gets its
codes, every other link of the message ``[]``, links of other messages stay untouched.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.inbound.ggk_retours import _store_product_codes
from gateway.store.database import transaction
from gateway.store.tables import MessageToewijzing
from tests.conftest import beschikking_body
from tests.gateway.ops_helpers import OTHER_BSN
from tests.gateway.stack import running_stack


def _product(code: str) -> dict[str, object]:
    return {
        "categorie": "45",
        "code": code,
        "aanbieder_agb": "99990001",
        "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
    }


def test_each_link_gets_its_codes_and_the_others_none(database_url: str, tmp_path: Path) -> None:
    with running_stack(database_url, tmp_path) as stack:
        runtime = stack.runtime
        first = stack.post_beschikking(beschikking_body(producten=[_product("45A08"), _product("45A10")]))
        other = stack.post_beschikking(
            beschikking_body(client={**beschikking_body()["client"], "bsn": OTHER_BSN})  # type: ignore[dict-item]
        )
        message_id = first["berichten"][0]["id"]
        other_id = other["berichten"][0]["id"]
        stack.wait_for_state(message_id, "answered")
        stack.wait_for_state(other_id, "answered")

        def links() -> dict[tuple[int, int], list[str] | None]:
            with runtime.sessions() as session:
                return {
                    (link.message_id, link.toewijzing_id): link.retour_codes
                    for link in session.scalars(select(MessageToewijzing))
                }

        mine = sorted(t for m, t in links() if m == message_id)
        assert len(mine) == 2
        untouched = {k: v for k, v in links().items() if k[0] == other_id}

        def store(product_codes: dict[int, tuple[str, ...]]) -> None:
            with transaction(runtime.sessions) as session:
                _store_product_codes(session, message_id, product_codes)

        store({mine[0]: ("8001", "8002"), 999_999: ("8003",)})
        assert {t: links()[(message_id, t)] for t in mine} == {mine[0]: ["8001", "8002"], mine[1]: []}
        store({mine[1]: ("8004",), mine[0]: ()})
        assert {t: links()[(message_id, t)] for t in mine} == {mine[0]: [], mine[1]: ["8004"]}
        store({})
        assert {t: links()[(message_id, t)] for t in mine} == {mine[0]: [], mine[1]: []}
        assert {k: v for k, v in links().items() if k[0] == other_id} == untouched
