"""Search by every key, and the message detail: timeline, masked payload, codes, links."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.ops.detail import message_detail
from gateway.ops.errors import InvalidInput
from gateway.ops.masking import pretty
from gateway.ops.search import SearchQuery, search_messages
from gateway.runtime import Runtime
from gateway.store.database import transaction
from tests.conftest import BSN, beschikking_body
from tests.gateway.ops_helpers import OTHER_BSN, insert_messages, payload
from tests.gateway.stack import running_stack


def test_search_by_each_key_and_the_detail_of_a_rejected_message(database_url: str, tmp_path: Path) -> None:
    with running_stack(database_url, tmp_path) as stack:
        runtime = stack.runtime
        accepted = stack.post_beschikking(beschikking_body(beschikkingnummer="JW-OPS-0001"))
        first = accepted["berichten"][0]["id"]
        stack.wait_for_state(first, "answered")
        stack.behave(mode="reject", level="product", retourcodes=["8001"], times=1)
        other = stack.post_beschikking(
            beschikking_body(
                beschikkingnummer="JW-OPS-0002",
                client={**beschikking_body()["client"], "bsn": OTHER_BSN},  # type: ignore[dict-item]
            )
        )
        second = other["berichten"][0]["id"]
        stack.wait_for_state(second, "rejected")
        toewijzingnummer = other["toewijzingen"][0]["toewijzingnummer"]
        [parked] = insert_messages(
            runtime, 1, state="parked", party="corv", route="corv:00000099000000000001", message_type="VTO"
        )

        def ids(**filters: object) -> list[int]:
            with runtime.sessions() as session:
                page = search_messages(session, runtime, SearchQuery(**filters))  # type: ignore[arg-type]
            return [row.id for row in page.items]

        with runtime.sessions() as session:
            ref = message_detail(session, runtime, second).envelope.referentienummer
        assert ids(bsn=BSN) == [parked, first]  # the inserted corv row is about BSN as well
        assert ids(bsn=OTHER_BSN) == [second]
        assert ids(beschikkingnummer="JW-OPS-0001") == [first]
        assert ids(toewijzingnummer=toewijzingnummer) == [second]
        assert ids(referentienummer=ref) == [second]
        assert ids(referentienummer=str(second)) == [second]  # BerichtIdentificatie
        assert ids(message_type="jw301") == [second, first]
        assert ids(party="corv") == [parked]
        assert ids(state="rejected") == [second]
        assert ids(route="ggk:99990001", state="answered") == [first]
        now = runtime.clock.now()
        assert ids(created_from=now - timedelta(hours=1), created_until=now + timedelta(hours=1)) == [
            parked,
            second,
            first,
        ]
        assert ids(created_until=now - timedelta(hours=1)) == []
        with runtime.sessions() as session:
            page = search_messages(session, runtime, SearchQuery(), page=2, page_size=2)
            assert (page.total, page.pages, [r.id for r in page.items]) == (3, 2, [first])
            with pytest.raises(InvalidInput):
                search_messages(session, runtime, SearchQuery(bsn="123456789"))
            rows = search_messages(session, runtime, SearchQuery(bsn=BSN)).items
            assert rows[1].bsn_masked == "*****0006" and BSN not in repr(rows)

            detail = message_detail(session, runtime, second)
        kinds = [entry.kind for entry in detail.timeline]
        assert kinds[0] == "accepted" and "attempt" in kinds and "answer" in kinds
        assert detail.attempts[0].outcome == "delivered" and detail.attempts[0].duration_ms >= 0
        assert detail.answer_type == "JW302" and detail.envelope.answer_cross_refnummer == ref
        assert [(c.code, c.toewijzingnummer) for c in detail.retour_codes] == [
            ("0200", None),
            ("8001", toewijzingnummer),
        ]
        assert detail.retour_codes[1].meaning.startswith("Declaratie")
        assert OTHER_BSN not in detail.payload and "*****0018" in detail.payload
        assert "Jansen" not in detail.payload and "2014-03-21" not in detail.payload
        assert "45A08" in detail.payload  # the care itself stays readable
        assert detail.answer_payload is not None and OTHER_BSN not in detail.answer_payload
        assert not detail.can_replay  # rejected: needs a correction, not a replay


def test_masking_covers_the_listed_elements_and_stray_bsns() -> None:
    text = pretty(payload(BSN) + b"")
    assert BSN not in text and "Markt" not in text and "2711AA" not in text and "Jansen" not in text
    assert "<Categorie>45</Categorie>" in text
    assert BSN in pretty(payload(BSN), masked=False)
    assert BSN not in pretty(f"not xml {BSN}".encode())


def test_corv_messages_are_found_by_ebms_message_id_and_link_their_notificaties(runtime: Runtime) -> None:
    from gateway.store.corv_tables import CorvInbound, CorvOutbound, CorvVto

    [vto] = insert_messages(runtime, 1, state="delivered", party="corv", route="corv:00000099000000000001")
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        session.add(
            CorvOutbound(
                message_id=vto,
                ebms_message_id="abc-123@gemeente.example",
                conversation_id="conv-1",
                action="vtoDi01",
                to_oin="00000099000000000001",
                cpa_id="cpa",
                content_type="multipart/related",
                wire_size=10,
                wire_sha256="0" * 64,
            )
        )
        row = CorvVto(
            zaak_identificatie="Z-1",
            message_id=vto,
            urgentie="normaal",
            samenvatting={},
            bsn_hashes=[],
            created_at=now,
        )
        session.add(row)
        session.flush()
        session.add(
            CorvInbound(
                soort="notificatie",
                status="accepted",
                koppeling="matched",
                action="notificatieDi01",
                vto_id=row.id,
                inhoud={},
                received_at=now,
            )
        )
    with runtime.sessions() as session:
        page = search_messages(session, runtime, SearchQuery(referentienummer="abc-123@gemeente.example"))
        detail = message_detail(session, runtime, vto)
    assert [r.id for r in page.items] == [vto]
    [link] = detail.related
    assert (link.relation, link.message_type, link.corv_inbound_id is not None) == (
        "notificatie",
        "notificatieDi01",
        True,
    )
    assert not detail.can_replay  # CORV: unpark, not replay
