"""Request ids and the worker's nudge (gateway.api.correlation), over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.api.correlation import CorrelationMiddleware
from tests.live_server import live_server


class CountingWorker:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


def _seen(request: Request) -> JSONResponse:
    # What the endpoint's log lines carry (bound in the middleware, seen in the endpoint's thread).
    status = int(request.query_params.get("status", "201"))
    return JSONResponse({"request_id": structlog.contextvars.get_contextvars().get("request_id")}, status)


@pytest.fixture
def served() -> Iterator[tuple[httpx.Client, CountingWorker]]:
    worker = CountingWorker()
    app = Starlette(routes=[Route("/seen", _seen, methods=["GET", "POST"])])
    app.add_middleware(CorrelationMiddleware, worker=worker)
    with live_server(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http, worker


def test_a_callers_request_id_is_reused_and_echoed(served: tuple[httpx.Client, CountingWorker]) -> None:
    http, _worker = served
    response = http.get("/seen", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.json() == {"request_id": "abc-123"}
    assert len(response.headers.get_list("x-request-id")) == 1


def test_an_unusable_request_id_is_replaced(served: tuple[httpx.Client, CountingWorker]) -> None:
    http, _worker = served
    for supplied in ("x" * 65, ""):
        response = http.get("/seen", headers={"X-Request-ID": supplied})
        assert len(response.headers["x-request-id"]) == 32 != len(supplied)
        assert response.json() == {"request_id": response.headers["x-request-id"]}


def test_only_an_accepted_post_wakes_the_worker(served: tuple[httpx.Client, CountingWorker]) -> None:
    http, worker = served
    assert http.get("/seen").status_code == 201
    assert http.post("/seen?status=422").status_code == 422
    assert worker.wakes == 0
    assert http.post("/seen").status_code == 201
    assert worker.wakes == 1
