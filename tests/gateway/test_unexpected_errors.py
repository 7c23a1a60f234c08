"""An error nobody foresaw still gets a problem+json 500 over real HTTP - never a reset
connection, never the exception's text (it may hold personal data) - through every
middleware of the real app (correlation, audit, limits)."""

from __future__ import annotations

import httpx

from gateway.app import create_app
from gateway.runtime import Runtime
from tests.conftest import AUTH, BSN
from tests.live_server import live_server


def test_an_unexpected_error_is_a_problem_500_without_its_text(runtime: Runtime) -> None:
    app = create_app(runtime)

    def boom() -> None:
        raise RuntimeError(f"something about {BSN}")

    app.add_api_route("/api/v1/_test_boom", boom, methods=["GET", "POST"])
    with live_server(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        for method in ("GET", "POST"):
            response = client.request(method, "/api/v1/_test_boom", headers=AUTH, json={})
            assert response.status_code == 500, (method, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert body["status"] == 500 and body["type"].endswith("internal-error")
            assert BSN not in response.text and "something about" not in response.text
            assert response.headers.get("X-Request-ID")
