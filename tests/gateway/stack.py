"""The gateway and the mock GGk running together over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app
from gateway.clock import Clock
from gateway.delivery.assembly import build_worker
from gateway.delivery.worker import DeliveryWorker
from gateway.runtime import Runtime
from gateway.store.database import transaction
from mocks.ggk import MockGgkConfig
from mocks.ggk import create_app as create_mock_app
from tests.conftest import AUTH, TEST_API_KEY, make_settings
from tests.live_server import free_port, live_server


@dataclass
class Stack:
    runtime: Runtime
    worker: DeliveryWorker
    api: httpx.Client
    mock: httpx.Client
    gateway_url: str

    def post_beschikking(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post("/api/v1/beschikkingen", json=body, headers=AUTH)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def bericht(self, message_id: int) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/berichten/{message_id}", headers=AUTH)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def wait_for_state(self, message_id: int, *states: str, timeout_s: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            detail = self.bericht(message_id)
            if detail["state"] in states:
                return detail
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"bericht {message_id} stayed {detail['state']}, wanted {states}: {detail}"
                )
            time.sleep(0.05)

    def behave(self, **behaviour: Any) -> None:
        response = self.mock.put("/_mock/behaviour", json=behaviour)
        assert response.status_code == 200, response.text

    def events(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api.get("/api/v1/events", headers=AUTH).json()["items"]
        return items

    def aanbieder_send(self, agb: str, request: dict[str, Any]) -> dict[str, Any]:
        """Make mock aanbieder ``agb`` send a heenbericht (``POST /_mock/aanbieder/{agb}/send``)."""
        response = self.mock.post(f"/_mock/aanbieder/{agb}/send", json=request)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def aanbieder_answer(self, referentienummer: str, timeout_s: float = 15.0) -> dict[str, Any]:
        """The gemeente's answer (Du01 retour or Fo01) the mock aanbieder got to a Di01 it sent."""
        deadline = time.monotonic() + timeout_s
        while True:
            response = self.mock.get(f"/_mock/aanbieder/retouren/{referentienummer}")
            if response.status_code == 200:
                result: dict[str, Any] = response.json()
                return result
            assert response.status_code == 404, response.text
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer to {referentienummer} within {timeout_s} s")
            time.sleep(0.05)


@contextmanager
def running_stack(
    database_url: str,
    tmp_path: Path,
    *,
    ggk_url: str | None = None,
    retour_delay_s: float = 0.05,
    clock: Clock | None = None,
    **settings: Any,
) -> Iterator[Stack]:
    """Gateway (API + worker) and mock GGk on free loopback ports; ``clock`` freezes the gateway's time."""
    gateway_port, mock_port = free_port(), free_port()
    config = make_settings(
        database_url, tmp_path, port=gateway_port, mock_port=mock_port, ggk_url=ggk_url or "", **settings
    )
    runtime = Runtime.create(config, clock)
    with transaction(runtime.sessions) as session:
        create_client(session, "test-backoffice", list(ALL_SCOPES), runtime.clock.now(), key=TEST_API_KEY)
    worker = build_worker(runtime)
    mock_app = create_mock_app(
        MockGgkConfig(
            callback_url=config.inbound_ggk_url,
            retour_delay_s=retour_delay_s,
            callback_backoff_s=0.05,
            callback_attempts=20,
        )
    )
    try:
        with (
            live_server(mock_app, mock_port) as mock_url,
            live_server(create_app(runtime, worker), gateway_port) as gateway_url,
            httpx.Client(base_url=gateway_url, timeout=10) as api,
            httpx.Client(base_url=mock_url, timeout=10) as mock,
        ):
            yield Stack(runtime, worker, api, mock, gateway_url)
    finally:
        runtime.close()
