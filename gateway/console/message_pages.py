"""Search and message detail, and the privacy officer's audited reveal.

A BSN never goes in a URL (it would end up in access logs and browser history): a search
that names one is a POST, and so is every page of its results; searches without a BSN
are plain GET links that can be bookmarked and shared. Results show the BSN masked
(``*****0006``); only a privacy officer can reveal one, with a reason, audited.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from starlette.datastructures import FormData, QueryParams

from gateway.console.web import LOCAL_TIME, ConsoleRoute, User, render, runtime_of
from gateway.ops.detail import message_detail, reveal_personal_data
from gateway.ops.errors import InvalidInput
from gateway.ops.search import SearchQuery, search_messages
from gateway.store.database import transaction
from gateway.store.tables import MessageState

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 50
PARTIES = ("ggk", "corv", "webhook")
#: The search form's text fields, as the form names them.
TEXT_FIELDS = ("bsn", "toewijzingnummer", "beschikkingnummer", "referentienummer", "type", "party", "route")
_NOTICES = {
    "parked": "The message is parked: it will not be sent until someone unparks or replays it.",
    "unparked": "The message is back in the queue with its original envelope.",
    "handled": "The overdue deadline is marked handled.",
}


def _local_day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field}: a date like 2026-11-29") from None
    return datetime.combine(day, time(), LOCAL_TIME)


def query_from(values: QueryParams | FormData, *, allow_bsn: bool) -> tuple[SearchQuery, dict[str, str]]:
    """The form's fields as a :class:`SearchQuery`, and as they were typed (to refill the form)."""
    raw = {name: str(values.get(name) or "").strip() for name in (*TEXT_FIELDS, "state", "from", "until")}
    raw["overdue"] = "1" if values.get("overdue") else ""
    if not allow_bsn:
        raw["bsn"] = ""
    nummer = raw["toewijzingnummer"]
    if nummer and not nummer.isdigit():
        raise InvalidInput("toewijzingnummer: digits only")
    if raw["state"] and raw["state"] not in MessageState.ALL:
        raise InvalidInput(f"state: one of {', '.join(MessageState.ALL)}")
    until = _local_day(raw["until"], "until")
    query = SearchQuery(
        bsn=raw["bsn"] or None,
        toewijzingnummer=int(nummer) if nummer else None,
        beschikkingnummer=raw["beschikkingnummer"] or None,
        referentienummer=raw["referentienummer"] or None,
        message_type=raw["type"] or None,
        party=raw["party"] or None,
        route=raw["route"] or None,
        state=raw["state"] or None,
        created_from=_local_day(raw["from"], "from"),
        created_until=until + timedelta(days=1) if until else None,
        overdue=bool(raw["overdue"]),
    )
    return query, raw


def _page_number(value: object) -> int:
    text = str(value or "1")
    return max(1, int(text)) if text.isdigit() and len(text) < 7 else 1


def _results(request: Request, user: User, values: QueryParams | FormData, *, posted: bool) -> Response:
    runtime = runtime_of(request)
    query, raw = query_from(values, allow_bsn=posted)
    searched = any(raw.values())
    page = None
    if searched:
        with runtime.sessions() as session:
            page = search_messages(
                session, runtime, query, page=_page_number(values.get("page")), page_size=PAGE_SIZE
            )
    ignored_bsn = not posted and bool(values.get("bsn"))
    return render(
        request,
        user,
        "search.html",
        section="search",
        form=raw,
        results=page,
        posted=posted,
        states=MessageState.ALL,
        parties=PARTIES,
        notice="A BSN is only searched through the form (it never goes in a URL)." if ignored_bsn else None,
        notice_kind="info",
    )


@router.get("/console/berichten")
def search_get(request: Request, user: User) -> Response:
    return _results(request, user, request.query_params, posted=False)


@router.post("/console/berichten")
async def search_post(request: Request, user: User) -> Response:
    form = await request.form()
    return _results(request, user, form, posted=True)


@router.get("/console/berichten/{message_id}")
def detail_page(request: Request, user: User, message_id: int, done: str = "") -> Response:
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        detail = message_detail(session, runtime, message_id)
    return render(
        request,
        user,
        "detail.html",
        section="search",
        d=detail,
        revealed=None,
        notice=_NOTICES.get(done),
    )


@router.post("/console/berichten/{message_id}/reveal")
def reveal(
    request: Request,
    user: User,
    message_id: int,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Show the BSN and the unmasked payload once, on this response only; audited first."""
    runtime = runtime_of(request)
    with transaction(runtime.sessions) as session:
        revealed = reveal_personal_data(session, runtime, user.operator, message_id, reason)
    with runtime.sessions() as session:
        detail = message_detail(session, runtime, message_id)
    return render(
        request,
        user,
        "detail.html",
        section="search",
        d=detail,
        revealed=revealed,
        notice="Personal data revealed. This was recorded in the audit log with your reason.",
        notice_kind="info",
    )
