"""Bad VTO input is refused precisely (problem+json naming the field) and stores nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.store.corv_tables import CorvVto, CorvWireChunk
from gateway.store.tables import Message
from tests.conftest import AUTH
from tests.gateway.corv_stack import PDF, CorvStack, open_spool_files, shared_gateway, vto_body

__all__ = ["shared_gateway"]  # fixture: one gateway per module and database (both tests store nothing)


def _nothing_stored(stack: CorvStack) -> None:
    with stack.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CorvVto)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert session.scalar(select(func.count()).select_from(CorvWireChunk)) == 0


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _rules(problem: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["field"], e["rule"]) for e in problem.get("errors", [])}


def test_bad_vtos_are_refused_precisely_and_store_nothing(shared_gateway: CorvStack) -> None:
    stack = shared_gateway
    # BSN failing the 11-proef, never echoed back
    body = vto_body()
    body["kinderen"][0]["persoon"]["bsn"] = "999900007"
    problem = _problem(stack.post_vto(body), 422)
    assert ("kinderen[0].persoon.bsn", "bsn-elfproef") in _rules(problem)
    assert "999900007" not in json.dumps(problem)

    # no "Verzoek tot onderzoek RvdK"
    body = vto_body(documenten=[{"soort": "Gezinsgeschiedenis", "bestandsnaam": "g.pdf", "part": "doc1"}])
    assert ("documenten", "vto-exactly-one-verzoek") in _rules(_problem(stack.post_vto(body), 422))

    # two of them
    body = vto_body(
        documenten=[
            {"soort": "Verzoek tot onderzoek RvdK", "bestandsnaam": "a.pdf", "part": "doc1"},
            {"soort": "Verzoek tot onderzoek RvdK", "bestandsnaam": "b.pdf", "part": "doc2"},
        ]
    )
    problem = _problem(stack.post_vto(body, {"doc1": PDF, "doc2": PDF}), 422)
    assert ("documenten", "vto-exactly-one-verzoek") in _rules(problem)

    # unknown OIN
    problem = _problem(stack.post_vto(vto_body(ontvanger_oin="00000099000000009999")), 422)
    assert ("ontvanger_oin", "corv-unknown-oin") in _rules(problem)

    # a document part that is missing, and one nobody refers to
    problem = _problem(stack.post_vto(vto_body(), {"other": PDF}), 422)
    assert ("documenten[0].part", "part-missing") in _rules(problem)

    # malformed multipart: a truncated body
    response = stack.api.post(
        "/api/v1/corv/vto",
        content=b'--XYZ\r\nContent-Disposition: form-data; name="vto"\r\n\r\n{"a": 1}',
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=XYZ"},
    )
    assert _problem(response, 400)["type"] == "urn:gateway:problem:malformed-multipart"

    # the JSON part is not JSON
    response = stack.api.post(
        "/api/v1/corv/vto", files={"vto": (None, "{not json", "application/json")}, headers=AUTH
    )
    assert _problem(response, 400)["type"] == "urn:gateway:problem:malformed-json"

    # neither multipart nor JSON
    response = stack.api.post(
        "/api/v1/corv/vto", content=b"x", headers={**AUTH, "Content-Type": "text/plain"}
    )
    _problem(response, 415)

    # no key / read-only scope
    assert stack.api.post("/api/v1/corv/vto", json=vto_body()).status_code == 401
    _nothing_stored(stack)


def test_an_oversized_document_is_refused_while_streaming(shared_gateway: CorvStack) -> None:
    """The default limit, 21 MB per document: one byte more is a 413 naming the document.

    The upload streamed to a spool file under the data dir (0700) that is gone afterwards.
    """
    stack = shared_gateway
    limit = stack.runtime.settings.corv.max_document_bytes
    assert limit == 21 * 1024 * 1024
    big = b"%PDF" + b"\0" * (limit - 3)
    problem = _problem(stack.post_vto(vto_body(), {"doc1": big}), 413)
    assert problem["type"] == "urn:gateway:problem:document-too-large"
    assert "doc1.pdf" in problem["detail"]
    assert problem["errors"][0]["field"] == "doc1"
    # the JSON form: base64 inhoud over the limit, named by its index
    body = vto_body()
    body["documenten"][0].pop("part")
    body["documenten"][0]["inhoud"] = "QUFB" * ((limit // 3) + 2)
    problem = _problem(stack.api.post("/api/v1/corv/vto", json=body, headers=AUTH), 413)
    assert problem["errors"][0]["field"] == "documenten[0]"
    _nothing_stored(stack)
    spool = stack.runtime.settings.data_dir / "spool"
    assert spool.is_dir() and spool.stat().st_mode & 0o777 == 0o700
    assert list(spool.iterdir()) == []
    if Path("/proc/self/fd").is_dir():
        assert open_spool_files(stack) == []
