"""Hostile XML at the real inbound endpoint ``POST /ggk/soap``, over loopback HTTP.

Each attack is refused precisely - a SOAP fault with the GGk's Fo03 code (RIN001, or
IB007 for size) - and leaves no trace in the database: no inbound row, no message, no
event. (XML that is merely not a valid envelope is still recorded as ``invalid``; that
is covered by the inbound tests.)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from connectors.ggk import MAX_ENVELOPE_BYTES, parse_soap_response, soap_headers
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.store.tables import Event, InboundMessage, Message
from tests.conftest import make_settings
from tests.live_server import live_server

SOAP_OPEN = b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
SOAP_CLOSE = b"</soapenv:Body></soapenv:Envelope>"

XXE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    + SOAP_OPEN
    + b'<StUF:Fo01Bericht xmlns:StUF="http://www.egem.nl/StUF/StUF0301">&xxe;</StUF:Fo01Bericht>'
    + SOAP_CLOSE
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n"
    + SOAP_OPEN
    + b"<lolz>&lol9;</lolz>"
    + SOAP_CLOSE
)
DEEP = SOAP_OPEN + b"<a>" * 5000 + b"x" + b"</a>" * 5000 + SOAP_CLOSE
DEEP_JUST_OVER = SOAP_OPEN + b"<a>" * 70 + b"x" + b"</a>" * 70 + SOAP_CLOSE
THIRTY_MB = SOAP_OPEN + b"<a>" + b"A" * (30 * 1024 * 1024) + b"</a>" + SOAP_CLOSE
DECLARED_UTF16 = b'<?xml version="1.0" encoding="UTF-16"?>' + SOAP_OPEN + b"<a>x</a>" + SOAP_CLOSE
DECLARED_LATIN1 = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + SOAP_OPEN + b"<a>\xe9</a>" + SOAP_CLOSE
NOT_UTF8 = SOAP_OPEN + b"<a>caf\xe9</a>" + SOAP_CLOSE
UTF16_BOM = "\ufeff<a>x</a>".encode("utf-16-le")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Runtime]:
    """One gateway for the module, on SQLite: nothing here reaches the database, which is
    what the tests check (the stored-row count before and after)."""
    directory = tmp_path_factory.mktemp("hostile")
    shutil.copy(sqlite_template, directory / "gateway.db")
    runtime = Runtime.create(make_settings(f"sqlite:///{directory / 'gateway.db'}", directory))
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def inbound_url(runtime: Runtime) -> Iterator[str]:
    with live_server(create_app(runtime)) as url:
        yield f"{url}/ggk/soap"


def stored(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return sum(
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (InboundMessage, Message, Event)
        )


def refusal(url: str, body: bytes | Iterator[bytes]) -> tuple[int, str | None, str]:
    response = httpx.post(url, content=body, headers=soap_headers("Fo01"), timeout=30)
    answer = parse_soap_response(response.status_code, response.content)
    assert answer.kind == "fo03", response.text[:500]
    return response.status_code, answer.code, answer.omschrijving or ""


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        pytest.param(XXE, "RIN001", "DOCTYPE or ENTITY declaration is not allowed", id="xxe"),
        pytest.param(
            BILLION_LAUGHS, "RIN001", "DOCTYPE or ENTITY declaration is not allowed", id="billion-laughs"
        ),
        pytest.param(DEEP, "RIN001", "nesting deeper than 64 levels", id="deep-5000"),
        pytest.param(DEEP_JUST_OVER, "RIN001", "nesting deeper than 64 levels", id="deep-72"),
        pytest.param(DECLARED_UTF16, "RIN001", "declared encoding 'UTF-16'", id="declared-utf16"),
        pytest.param(DECLARED_LATIN1, "RIN001", "declared encoding 'ISO-8859-1'", id="declared-latin1"),
        pytest.param(NOT_UTF8, "RIN001", "not valid UTF-8", id="not-utf8"),
        pytest.param(UTF16_BOM, "RIN001", "byte order mark", id="utf16-bom"),
    ],
)
def test_hostile_xml_is_refused_with_its_code_and_nothing_is_stored(
    runtime: Runtime, inbound_url: str, body: bytes, code: str, reason: str
) -> None:
    status, found_code, omschrijving = refusal(inbound_url, body)
    assert (status, found_code) == (500, code)
    assert reason in omschrijving
    assert stored(runtime) == 0


def test_a_30_mb_envelope_is_refused_unread_with_ib007(runtime: Runtime, inbound_url: str) -> None:
    assert len(THIRTY_MB) > MAX_ENVELOPE_BYTES
    status, code, omschrijving = refusal(inbound_url, THIRTY_MB)
    assert (status, code) == (500, "IB007")
    assert str(MAX_ENVELOPE_BYTES) in omschrijving
    assert stored(runtime) == 0


def test_a_30_mb_envelope_without_content_length_is_cut_off_while_streaming(
    runtime: Runtime, inbound_url: str
) -> None:
    def chunks() -> Iterator[bytes]:
        yield SOAP_OPEN
        for _ in range(30):
            yield b"A" * (1024 * 1024)

    status, code, _ = refusal(inbound_url, chunks())
    assert (status, code) == (500, "IB007")
    assert stored(runtime) == 0
