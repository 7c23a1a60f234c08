"""Inbound mutual TLS on the chain listener, over real TLS on loopback.

The gateway runs as ``gateway serve`` runs it in production: the back-office API on
one (plain) listener, the chain endpoints on a mutual-TLS listener whose uvicorn
protocol hands the verified client certificate to the app. The TLS handshake refuses
no certificate, an unknown CA, an expired certificate and plain HTTP; the app refuses
an OIN that is no configured party (Fo03 IB002) and a message type the party may not
send (Fo03 IB234). Nothing refused is stored.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import structlog.testing
from sqlalchemy import func, select

from connectors.ggk import (
    GGK_SYSTEEM,
    Heenbericht,
    Operation,
    Systeem,
    new_referentienummer,
    parse_soap_response,
    render_di01,
    render_fo01,
    soap_headers,
    soap_request,
)
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Mode, Settings
from gateway.store.tables import InboundMessage
from gateway.tls.server import chain_listener_config
from gateway.tls.startup import announce, production_problems
from tests.conftest import make_settings
from tests.live_server import free_port, live_config, live_server
from tests.tls_certs import OIN_GEMEENTE, OIN_GGK, OIN_STRANGER, Issued, ThrowAwayCa, make_ca

GEMEENTE = Systeem("0637", "Gemeente-Gateway")


class Pki:
    def __init__(self, directory: Path) -> None:
        self.ca: ThrowAwayCa = make_ca(directory / "chain", "chain")
        self.rogue: ThrowAwayCa = make_ca(directory / "rogue", "rogue")
        self.gateway = self.ca.issue("gateway", OIN_GEMEENTE, server=True)
        self.ggk = self.ca.issue("ggk-client", OIN_GGK)
        self.ggk_expired = self.ca.issue("ggk-expired", OIN_GGK, expired=True)
        self.ggk_rogue = self.rogue.issue("ggk-rogue", OIN_GGK)
        self.stranger = self.ca.issue("stranger", OIN_STRANGER)
        self.no_oin = self.ca.issue("no-oin", None)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def chain_settings(database_url: str, tmp_path: Path, pki: Pki, allowed: list[str]) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        chain_tls={
            "port": free_port(),
            "cert_file": str(pki.gateway.cert_file),
            "key_file": str(pki.gateway.key_file),
            "ca_file": str(pki.ca.ca_file),
            "parties": [{"name": "ggk", "oin": OIN_GGK, "allowed": allowed}],
        },
    )


@dataclass
class Listeners:
    runtime: Runtime
    api_url: str
    chain_url: str
    ca_file: Path

    def client(self, cert: Issued | None) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if cert is not None:
            context.load_cert_chain(str(cert.cert_file), str(cert.key_file))
        return httpx.Client(verify=context, timeout=5)

    def stored(self) -> int:
        with self.runtime.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


@pytest.fixture(scope="module")
def listeners(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, pki: Pki
) -> Iterator[Listeners]:
    """Both listeners, started once for the module (on SQLite: the refusals never reach the
    database, the accepted request is stored the same on both; tests compare row counts)."""
    directory = tmp_path_factory.mktemp("chain-listener")
    shutil.copy(sqlite_template, directory / "gateway.db")
    database_url = f"sqlite:///{directory / 'gateway.db'}"
    settings = chain_settings(database_url, directory, pki, ["ggk:Fo01", "ggk:JW302"])
    runtime = Runtime.create(settings)
    app = create_app(runtime)
    try:
        with (
            live_server(app) as api_url,
            live_config(
                chain_listener_config(app, settings.chain_tls, "127.0.0.1", log_level="warning")
            ) as chain,
        ):
            yield Listeners(runtime, api_url, chain, pki.ca.ca_file)
    finally:
        runtime.close()


def fo01_body() -> bytes:
    return render_fo01(
        "StUF055", "client", "test", zender=GGK_SYSTEEM, ontvanger=GEMEENTE, cross_ref=new_referentienummer()
    )


def di01_body(functie: str) -> bytes:
    envelope = render_di01(
        Heenbericht(
            zender=Systeem("99990001", "MockAanbieder"),
            ontvanger=Systeem("0637", "GGk"),
            referentienummer=new_referentienummer(),
            tijdstip=datetime.now(UTC).replace(tzinfo=None),
            functie=functie,
            payload=b"<x/>",
        )
    )
    body, _ = soap_request(envelope, "ggk_Di01")
    return body


def post(client: httpx.Client, url: str, body: bytes, operation: Operation = "Fo01") -> httpx.Response:
    return client.post(f"{url}/ggk/soap", content=body, headers=soap_headers(operation))


def test_a_configured_party_with_a_valid_certificate_is_accepted(listeners: Listeners, pki: Pki) -> None:
    before = listeners.stored()
    with listeners.client(pki.ggk) as client:
        response = post(client, listeners.chain_url, fo01_body())
    assert response.status_code == 200, response.text
    assert parse_soap_response(response.status_code, response.content).kind == "bv03"
    assert listeners.stored() == before + 1


@pytest.mark.parametrize("who", ["unknown_ca", "expired", "no_certificate"])
def test_the_handshake_refuses_certificates_that_do_not_verify(
    listeners: Listeners, pki: Pki, who: str
) -> None:
    before = listeners.stored()
    cert = {"unknown_ca": pki.ggk_rogue, "expired": pki.ggk_expired, "no_certificate": None}[who]
    with listeners.client(cert) as client, pytest.raises(httpx.TransportError):
        post(client, listeners.chain_url, fo01_body())
    assert listeners.stored() == before


def test_plain_http_to_the_chain_listener_is_refused(listeners: Listeners) -> None:
    before = listeners.stored()
    plain = listeners.chain_url.replace("https://", "http://")
    with httpx.Client(timeout=5) as client, pytest.raises(httpx.TransportError):
        post(client, plain, fo01_body())
    assert listeners.stored() == before


@pytest.mark.parametrize("who", ["stranger", "no_oin"])
def test_a_certificate_whose_oin_is_no_configured_party_gets_fo03_ib002(
    listeners: Listeners, pki: Pki, who: str
) -> None:
    before = listeners.stored()
    cert = pki.stranger if who == "stranger" else pki.no_oin
    with listeners.client(cert) as client:
        response = post(client, listeners.chain_url, fo01_body())
    answer = parse_soap_response(response.status_code, response.content)
    assert (response.status_code, answer.kind, answer.code) == (500, "fo03", "IB002")
    assert answer.omschrijving is not None
    assert (OIN_STRANGER in answer.omschrijving) if who == "stranger" else ("no OIN" in answer.omschrijving)
    assert listeners.stored() == before


def test_a_party_may_post_only_its_allowed_message_types(listeners: Listeners, pki: Pki) -> None:
    before = listeners.stored()
    with listeners.client(pki.ggk) as client:
        response = post(client, listeners.chain_url, di01_body("JW305"), "ggk_Di01")
    answer = parse_soap_response(response.status_code, response.content)
    assert (response.status_code, answer.kind, answer.code) == (500, "fo03", "IB234")
    assert answer.omschrijving == "ggk may not send JW305"
    assert listeners.stored() == before


def test_chain_endpoints_are_not_served_on_the_api_listener(listeners: Listeners) -> None:
    before = listeners.stored()
    with httpx.Client(timeout=5) as client:
        response = post(client, listeners.api_url, fo01_body())
        health = client.get(f"{listeners.api_url}/health")
    answer = parse_soap_response(response.status_code, response.content)
    assert (answer.kind, answer.code) == ("fo03", "IB002")
    assert health.status_code == 200
    assert listeners.stored() == before


def test_the_chain_listener_serves_only_the_chain_endpoints(listeners: Listeners, pki: Pki) -> None:
    with listeners.client(pki.ggk) as client:
        response = client.get(f"{listeners.chain_url}/api/v1/berichten")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_production_mode_refuses_to_start_without_mutual_tls(tmp_path: Path, pki: Pki) -> None:
    # (model_copy: the other production requirements are not what this test is about)
    plain = make_settings("sqlite://", tmp_path).model_copy(update={"mode": Mode.PRODUCTION})
    problems = production_problems(plain)
    assert any("GATEWAY_CHAIN_TLS__CERT_FILE" in problem for problem in problems)
    assert any("GATEWAY_GGK_TLS__CERT_FILE" in problem for problem in problems)


def test_development_mode_says_loudly_that_it_is_insecure(tmp_path: Path, pki: Pki) -> None:
    with structlog.testing.capture_logs() as logs:
        lines = announce(make_settings("sqlite://", tmp_path))
    assert [entry["log_level"] for entry in logs if entry["event"] == "insecure_development_mode"] == [
        "warning"
    ]
    assert lines[0].startswith("INSECURE: chain endpoints")
    secured = chain_settings("sqlite://", tmp_path, pki, ["ggk:*"])
    with structlog.testing.capture_logs() as logs:
        lines = announce(secured)
    assert not [entry for entry in logs if entry["event"] == "insecure_development_mode"]
    assert lines[0].startswith(
        f"chain endpoints: https://127.0.0.1:{secured.chain_tls.port} (mutual TLS: ggk"
    )


def test_production_without_the_chain_listener_serves_no_chain_endpoint(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Fail closed: the app served any other way than ``gateway serve`` still refuses plain HTTP."""
    keys = {"keys": {"k1": "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE="}}
    settings = make_settings(runtime.settings.effective_database_url, tmp_path, encryption=keys)
    production = Runtime.create(settings.model_copy(update={"mode": Mode.PRODUCTION}))
    try:
        with live_server(create_app(production)) as url, httpx.Client(timeout=5) as client:
            response = post(client, url, fo01_body())
        answer = parse_soap_response(response.status_code, response.content)
        assert (response.status_code, answer.kind, answer.code) == (500, "fo03", "IB002")
        with production.sessions() as session:
            assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0
    finally:
        production.close()
