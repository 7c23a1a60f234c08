"""Outbound mutual TLS to the GGk, over real TLS on loopback.

The mock GGk runs in uvicorn with TLS, demanding a client certificate from the test
CA. The gateway's GGk transport uses the client built from its ``ggk_tls`` settings.
A wrong OIN, an unknown CA or an expired server certificate is refused before a byte
of the message is sent, and the outcome is *permanent* (parked, with the reason).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.ggk import Heenbericht, Systeem, new_referentienummer, render_di01, soap_request
from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app as create_gateway_app
from gateway.delivery.assembly import build_worker
from gateway.delivery.ggk_transport import GgkSoapTransport
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.delivery.soap_poster import SoapPoster
from gateway.runtime import Runtime
from gateway.settings import OutboundTls
from gateway.store.database import transaction
from gateway.tls.client import outbound_ssl_context, tls_http_client
from mocks.ggk import MockGgkConfig, create_app
from tests.conftest import beschikking_body, make_settings
from tests.live_server import free_port, live_server
from tests.mocks.test_mock_ggk import jw301
from tests.tls_certs import OIN_GEMEENTE, OIN_GGK, OIN_STRANGER, Issued, ThrowAwayCa, make_ca

TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class Pki:
    def __init__(self, directory: Path) -> None:
        self.ca: ThrowAwayCa = make_ca(directory / "chain", "chain")
        self.rogue: ThrowAwayCa = make_ca(directory / "rogue", "rogue")
        self.ggk = self.ca.issue("ggk", OIN_GGK, server=True)
        self.ggk_wrong_oin = self.ca.issue("ggk-wrong-oin", OIN_STRANGER, server=True)
        self.ggk_expired = self.ca.issue("ggk-expired", OIN_GGK, server=True, expired=True)
        self.ggk_rogue = self.rogue.issue("ggk-rogue", OIN_GGK, server=True)
        self.gemeente = self.ca.issue("gemeente", OIN_GEMEENTE)
        self.gemeente_rogue = self.rogue.issue("gemeente-rogue", OIN_GEMEENTE)

    def our_tls(self, client: Issued | None = None) -> OutboundTls:
        client = client or self.gemeente
        return OutboundTls(
            cert_file=client.cert_file, key_file=client.key_file, ca_file=self.ca.ca_file, server_oin=OIN_GGK
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@contextmanager
def tls_mock_ggk(pki: Pki, server: Issued) -> Iterator[str]:
    """The mock GGk on https, requiring a client certificate from the chain CA."""
    config = MockGgkConfig(
        callback_url=f"http://127.0.0.1:{free_port()}/ggk/soap", callback_attempts=1, retour_delay_s=0
    )
    with live_server(
        create_app(config),
        ssl_certfile=str(server.cert_file),
        ssl_keyfile=str(server.key_file),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        ssl_ca_certs=str(pki.ca.ca_file),
    ) as url:
        yield url


def send_jw301(url: str, tls: OutboundTls, *, lean: bool = False) -> tuple[Outcome, str]:
    """Through httpx, or with ``lean`` through the SoapPoster the worker uses (same context)."""
    ref = new_referentienummer()
    envelope = render_di01(
        Heenbericht(
            zender=Systeem("0637", "Gemeente-Gateway"),
            ontvanger=Systeem("99990001"),
            referentienummer=ref,
            tijdstip=datetime.now(),
            functie="JW301",
            payload=jw301(),
            referentienummer_bericht="TW2026000001",
        )
    )
    body, _ = soap_request(envelope, "ggk_Di01")
    poster = (
        SoapPoster(
            f"{url}/ggk/soap", context=outbound_ssl_context(tls), connect_timeout_s=2, send_timeout_s=5
        )
        if lean
        else None
    )
    with tls_http_client(tls, timeout=TIMEOUT) as client:
        transport = GgkSoapTransport(f"{url}/ggk/soap", client, poster)
        try:
            return transport.send(body, after_unknown=False), ref
        finally:
            transport.close()


def received_refs(url: str, pki: Pki, server_oin: str = OIN_GGK) -> list[str]:
    tls = pki.our_tls().model_copy(update={"server_oin": server_oin})
    with tls_http_client(tls, timeout=TIMEOUT) as client:
        records = client.get(f"{url}/_mock/received").json()
    return [str(record["referentienummer"]) for record in records]


def test_the_configured_ggk_is_reached_over_mutual_tls(pki: Pki) -> None:
    with tls_mock_ggk(pki, pki.ggk) as url:
        outcome, ref = send_jw301(url, pki.our_tls())
        assert outcome.kind is OutcomeKind.DELIVERED, outcome
        assert ref in received_refs(url, pki)


def test_a_server_certificate_with_another_oin_is_refused_before_sending(pki: Pki) -> None:
    with tls_mock_ggk(pki, pki.ggk_wrong_oin) as url:
        outcome, ref = send_jw301(url, pki.our_tls())
        assert outcome.kind is OutcomeKind.PERMANENT
        assert outcome.detail is not None
        assert f"OIN {OIN_STRANGER} is not the configured {OIN_GGK}" in outcome.detail
        # Refused before the request was written: the mock (asked by a client that expects
        # this server's OIN) has not received the message.
        assert ref not in received_refs(url, pki, server_oin=OIN_STRANGER)


def test_a_server_certificate_from_an_unknown_ca_is_refused(pki: Pki) -> None:
    with tls_mock_ggk(pki, pki.ggk_rogue) as url:
        outcome, _ = send_jw301(url, pki.our_tls())
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.detail is not None and "server certificate refused" in outcome.detail
    assert "unable to get local issuer certificate" in outcome.detail


def test_an_expired_server_certificate_is_refused(pki: Pki) -> None:
    with tls_mock_ggk(pki, pki.ggk_expired) as url:
        outcome, _ = send_jw301(url, pki.our_tls())
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.detail is not None and "expired" in outcome.detail


def test_our_certificate_refused_by_the_server_delivers_nothing(pki: Pki) -> None:
    """The GGk does not know our CA. Under TLS 1.3 the server judges our certificate after
    the client's side of the handshake is done, and uvicorn just drops the connection: the
    client cannot tell this from a dropped connection, so the outcome is *unknown* (retried
    with the same ids, then expired) - never delivered, and the GGk processed nothing."""
    with tls_mock_ggk(pki, pki.ggk) as url:
        outcome, ref = send_jw301(url, pki.our_tls(pki.gemeente_rogue))
        assert outcome.kind in (OutcomeKind.UNKNOWN, OutcomeKind.PERMANENT), outcome
        assert ref not in received_refs(url, pki)


def test_the_client_context_demands_tls_1_2_and_only_the_configured_ca(pki: Pki) -> None:
    context = outbound_ssl_context(pki.our_tls())
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # the configured bundle, not the system store


def test_incomplete_outbound_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="cert_file, key_file and ca_file"):
        OutboundTls(cert_file=Path("/x.pem"))


# --- through the delivery worker (gateway.delivery.assembly reads GATEWAY_GGK_TLS__*) ------------


@contextmanager
def gateway_to(url: str, database_url: str, tmp_path: Path, tls: OutboundTls) -> Iterator[httpx.Client]:
    settings = make_settings(database_url, tmp_path, ggk_url=f"{url}/ggk/soap", ggk_tls=tls.model_dump())
    runtime = Runtime.create(settings)
    key = f"gw_{tmp_path.name}_" + "k" * 40
    with transaction(runtime.sessions) as session:
        create_client(session, f"bo-{tmp_path.name}", list(ALL_SCOPES), runtime.clock.now(), key=key)
    try:
        with (
            live_server(create_gateway_app(runtime, build_worker(runtime))) as gateway_url,
            httpx.Client(base_url=gateway_url, headers={"X-API-Key": key}, timeout=10) as api,
        ):
            yield api
    finally:
        runtime.close()


def wait_for(api: httpx.Client, message_id: int, *states: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        detail: dict[str, Any] = api.get(f"/api/v1/berichten/{message_id}").json()
        if detail["state"] in states or time.monotonic() > deadline:
            return detail
        time.sleep(0.05)


def test_the_worker_delivers_over_mutual_tls_and_parks_on_a_wrong_oin(
    pki: Pki, database_url: str, tmp_path: Path
) -> None:
    with (
        tls_mock_ggk(pki, pki.ggk) as url,
        gateway_to(url, database_url, tmp_path / "ok", pki.our_tls()) as api,
    ):
        message = api.post("/api/v1/beschikkingen", json=beschikking_body()).json()["berichten"][0]
        assert wait_for(api, message["id"], "delivered", "answered")["state"] in ("delivered", "answered")
    with (
        tls_mock_ggk(pki, pki.ggk_wrong_oin) as url,
        gateway_to(url, database_url, tmp_path / "wrong", pki.our_tls()) as api,
    ):
        body = beschikking_body()
        body["client"]["bsn"] = "999900018"  # type: ignore[index]  # another client: no overlap (TR302)
        message = api.post("/api/v1/beschikkingen", json=body).json()["berichten"][0]
        detail = wait_for(api, message["id"], "parked")
        assert detail["state"] == "parked"
        assert detail["attempts"] == 1
        assert f"OIN {OIN_STRANGER} is not the configured {OIN_GGK}" in (detail["last_error"] or "")
