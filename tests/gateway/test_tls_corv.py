"""Mutual TLS with the CORV hub, both ways, over real TLS on loopback.

Outbound: the mock CORV hub runs in uvicorn with TLS, demanding a client certificate from
the test CA; the gateway's CORV party has ``tls`` configured, so the delivery worker
reaches it with our certificate and checks the hub's OIN in its server certificate. A
hub certificate with another OIN is refused before a byte is sent: the VTO is parked.

Inbound: ``/corv/ebms`` on the chain listener (as ``gateway serve`` runs it in
production). A configured party's message on its allow-list is accepted (ack + Bv01);
an action off its allow-list, or a From/PartyId that is not its certificate's OIN, gets
an ebMS MessageError ``SecurityFailure`` and nothing is stored.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from connectors.ebms import (
    SOAP_ACTION_HEADER,
    MessageHeader,
    MessageKind,
    Payload,
    build_user_message,
    parse_message,
)
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.settings import Mode, OutboundTls
from gateway.store.corv_tables import CorvInbound, CorvReceived, CorvStufReferentie
from gateway.store.tables import Event
from gateway.tls.server import chain_listener_config
from gateway.tls.startup import announce, production_problems
from mocks.corv import MockCorvConfig
from mocks.corv import create_app as create_mock_app
from mocks.corv.messages import NotificatieRequest, ZorgmeldingRequest, notificatie, zorgmelding
from tests.conftest import make_settings
from tests.gateway.corv_stack import CorvStack, gateway_only, vto_body
from tests.live_server import free_port, live_config, live_server
from tests.tls_certs import OIN_CORV, OIN_GEMEENTE, OIN_STRANGER, Issued, ThrowAwayCa, make_ca

TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class Pki:
    def __init__(self, directory: Path) -> None:
        self.ca: ThrowAwayCa = make_ca(directory / "chain", "chain")
        # outbound: the hub's server certificates, our client certificate
        self.hub = self.ca.issue("corv-hub", OIN_CORV, server=True)
        self.hub_wrong_oin = self.ca.issue("corv-hub-wrong-oin", OIN_STRANGER, server=True)
        self.gemeente = self.ca.issue("gemeente", OIN_GEMEENTE)
        # inbound: our chain listener's server certificate, the parties' client certificates
        self.gateway = self.ca.issue("gateway", OIN_GEMEENTE, server=True)
        self.corv_client = self.ca.issue("corv-client", OIN_CORV)
        self.other_client = self.ca.issue("other-client", OIN_STRANGER)

    def our_tls(self) -> OutboundTls:
        return OutboundTls(
            cert_file=self.gemeente.cert_file, key_file=self.gemeente.key_file, ca_file=self.ca.ca_file
        )

    def client(self, cert: Issued) -> httpx.Client:
        """A plain mutual-TLS client (no OIN check) for the test's own look at a server."""
        context = ssl.create_default_context(cafile=str(self.ca.ca_file))
        context.load_cert_chain(str(cert.cert_file), str(cert.key_file))
        return httpx.Client(verify=context, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


# --- outbound: the VTO to the hub over mutual TLS ------------------------------------------------


@contextmanager
def tls_mock_hub(pki: Pki, server: Issued, gateway_port: int) -> Iterator[str]:
    """The mock CORV hub on https, requiring a client certificate from the chain CA."""
    config = MockCorvConfig(
        callback_url=f"http://127.0.0.1:{gateway_port}/corv/ebms",
        answer_delay_s=0.05,
        callback_backoff_s=0.05,
        callback_backoff_max_s=0.5,
    )
    with live_server(
        create_mock_app(config),
        ssl_certfile=str(server.cert_file),
        ssl_keyfile=str(server.key_file),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
        ssl_ca_certs=str(pki.ca.ca_file),
    ) as url:
        yield url


@contextmanager
def gateway_to_hub(
    pki: Pki, database_url: str, tmp_path: Path, server: Issued
) -> Iterator[tuple[CorvStack, str]]:
    gateway_port = free_port()
    with tls_mock_hub(pki, server, gateway_port) as hub_url:
        party = {
            "oin": OIN_CORV,
            "url": f"{hub_url}/corv/ebms",
            "retries": 3,
            "retry_interval_s": 0.2,
            "tls": pki.our_tls().model_dump(mode="json"),
        }
        with gateway_only(database_url, tmp_path, port=gateway_port, corv={"parties": [party]}) as stack:
            yield stack, hub_url


def hub_received(pki: Pki, hub_url: str) -> list[dict[str, Any]]:
    with pki.client(pki.gemeente) as client:
        response = client.get(f"{hub_url}/_mock/corv/received")
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["received"]
    return items


def test_a_vto_reaches_the_configured_hub_over_mutual_tls(
    pki: Pki, database_url: str, tmp_path: Path
) -> None:
    with gateway_to_hub(pki, database_url, tmp_path, pki.hub) as (stack, hub_url):
        created = stack.accepted_vto(vto_body("ZAAK-MTLS-1"))
        detail = stack.wait_vto(created["id"], "accepted")
        assert detail["bericht"]["state"] == "answered"
        [seen] = [item for item in hub_received(pki, hub_url) if item["action"] == "vtoDi01"]
        assert seen["message_id"] == detail["ebms_message_id"]


def test_a_hub_certificate_with_another_oin_parks_the_vto_unsent(
    pki: Pki, database_url: str, tmp_path: Path
) -> None:
    with gateway_to_hub(pki, database_url, tmp_path, pki.hub_wrong_oin) as (stack, hub_url):
        created = stack.accepted_vto(vto_body("ZAAK-MTLS-2"))
        detail = stack.wait_vto(created["id"], "parked")
        assert detail["bericht"]["attempts"] == 1  # permanent at once: no retries towards an impostor
        bericht = stack.get(detail["bericht"]["href"])
        assert f"OIN {OIN_STRANGER} is not the configured {OIN_CORV}" in (bericht["last_error"] or "")
        # refused after the handshake, before the request was written: the hub has nothing
        assert hub_received(pki, hub_url) == []


# --- inbound: /corv/ebms on the chain listener ---------------------------------------------------


@dataclass
class ChainListener:
    runtime: Runtime
    api_url: str
    chain_url: str

    def stored(self) -> dict[str, int]:
        """Rows a received message could leave behind, per table."""
        with self.runtime.sessions() as session:
            return {
                model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (CorvInbound, CorvReceived, CorvStufReferentie, Event)
            }


@pytest.fixture
def chain(database_url: str, tmp_path: Path, pki: Pki) -> Iterator[ChainListener]:
    """The gateway with its API listener and its mutual-TLS chain listener. The CORV hub may
    send notificaties and acknowledgements only; a second party (OIN_STRANGER) may send anything."""
    settings = make_settings(
        database_url,
        tmp_path,
        chain_tls={
            "port": free_port(),
            "cert_file": str(pki.gateway.cert_file),
            "key_file": str(pki.gateway.key_file),
            "ca_file": str(pki.ca.ca_file),
            "parties": [
                {"name": "corv", "oin": OIN_CORV, "allowed": ["corv:notificatieDi01", "corv:Acknowledgment"]},
                {"name": "other", "oin": OIN_STRANGER, "allowed": ["corv:*"]},
            ],
        },
    )
    runtime = Runtime.create(settings)
    app = create_app(runtime)
    try:
        with (
            live_server(app) as api_url,
            live_config(
                chain_listener_config(app, settings.chain_tls, "127.0.0.1", log_level="warning")
            ) as chain_url,
        ):
            yield ChainListener(runtime, api_url, chain_url)
    finally:
        runtime.close()


def ebms_message(action: str, stuf: bytes, from_party: str = OIN_CORV) -> tuple[str, bytes]:
    header = MessageHeader.new(
        from_party=from_party, to_party=OIN_GEMEENTE, cpa_id="CPA-CORV-0637", action=action, host="test-hub"
    )
    return build_user_message(header, [Payload(stuf)])


def post(client: httpx.Client, url: str, message: tuple[str, bytes]) -> httpx.Response:
    content_type, body = message
    headers = {"Content-Type": content_type, SOAP_ACTION_HEADER[0]: SOAP_ACTION_HEADER[1]}
    return client.post(f"{url}/corv/ebms", content=body, headers=headers)


def security_failure(response: httpx.Response) -> str:
    """The description of the SecurityFailure the response must be."""
    assert response.status_code == 500, response.text
    with parse_message(response.headers["content-type"], response.content) as received:
        assert received.kind is MessageKind.ERROR
        error = received.first_error()
    assert error is not None and error.error_code == "SecurityFailure"
    return error.description


def test_the_hub_posts_over_mutual_tls_and_only_what_it_may_send(chain: ChainListener, pki: Pki) -> None:
    notificatie_body = notificatie(NotificatieRequest(), OIN_CORV, OIN_GEMEENTE)
    with pki.client(pki.corv_client) as hub:
        # allowed: ack with Bv01, stored
        accepted = post(hub, chain.chain_url, ebms_message("notificatieDi01", notificatie_body))
        assert accepted.status_code == 200, accepted.text
        with parse_message(accepted.headers["content-type"], accepted.content) as answer:
            assert answer.kind is MessageKind.ACK
            assert answer.payload is not None and b"Bv01" in answer.payload.read()
        after_accepted = chain.stored()
        assert after_accepted["corv_inbound"] == 1 and after_accepted["corv_received"] == 1

        # an action off its allow-list: SecurityFailure, nothing stored
        zorgmelding_body = zorgmelding(ZorgmeldingRequest(), OIN_CORV, OIN_GEMEENTE)
        refused = post(hub, chain.chain_url, ebms_message("zorgmeldingDi01", zorgmelding_body))
        assert security_failure(refused) == "corv may not send zorgmeldingDi01"
        assert chain.stored() == after_accepted

    # another configured party posting in the hub's name (From/PartyId not its certificate's OIN)
    with pki.client(pki.other_client) as other:
        spoofed = post(other, chain.chain_url, ebms_message("notificatieDi01", notificatie_body))
    assert security_failure(spoofed) == "From/PartyId is not the OIN of the client certificate"
    assert chain.stored() == after_accepted

    # /corv/ebms is not served on the back-office listener once the chain listener exists
    with httpx.Client(timeout=TIMEOUT) as plain:
        elsewhere = post(plain, chain.api_url, ebms_message("notificatieDi01", notificatie_body))
    assert elsewhere.status_code == 403
    assert chain.stored() == after_accepted


def test_production_needs_mutual_tls_to_each_corv_party(tmp_path: Path, pki: Pki) -> None:
    plain = make_settings(
        "sqlite://", tmp_path, corv={"parties": [{"oin": OIN_CORV, "url": "https://hub/ebms"}]}
    )
    problems = production_problems(plain.model_copy(update={"mode": Mode.PRODUCTION}))
    assert any(f"mutual TLS to CORV party {OIN_CORV}" in problem for problem in problems)
    assert any(line.startswith(f"INSECURE: CORV {OIN_CORV}") for line in announce(plain))
    secured = make_settings(
        "sqlite://",
        tmp_path,
        corv={
            "parties": [
                {"oin": OIN_CORV, "url": "https://hub/ebms", "tls": pki.our_tls().model_dump(mode="json")}
            ]
        },
    )
    problems = production_problems(secured.model_copy(update={"mode": Mode.PRODUCTION}))
    assert not [problem for problem in problems if "CORV" in problem]
    assert not [line for line in announce(secured) if "CORV" in line]
