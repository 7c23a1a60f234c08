"""The overview: per chain party and route, what flows and what is stuck - live.

The page polls ``/console/fragments/overview`` every few seconds (a few lines of
``console.js``) and swaps the body in; the numbers come from
:func:`gateway.ops.overview.overview` in one read transaction.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.console.web import ConsoleRoute, User, render, runtime_of
from gateway.ops.overview import overview
from gateway.store.tables import MessageState

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

REFRESH_SECONDS = 5
#: The columns of the state counts, in the order a message lives through them.
STATE_COLUMNS = list(MessageState.ALL)
_NOTICES = {
    "paused": "The route is paused: the worker sends nothing on it until it is resumed.",
    "resumed": "The route is resumed: its queued messages leave now.",
}


def _context(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        picture = overview(session, runtime)
    return {"ov": picture, "states": STATE_COLUMNS}


@router.get("/console/")
def overview_page(request: Request, user: User, done: str = "") -> Response:
    return render(
        request,
        user,
        "overview.html",
        section="overview",
        refresh_seconds=REFRESH_SECONDS,
        notice=_NOTICES.get(done),
        **_context(request),
    )


@router.get("/console/fragments/overview")
def overview_fragment(request: Request, user: User) -> Response:
    return render(request, user, "_overview_body.html", **_context(request))
