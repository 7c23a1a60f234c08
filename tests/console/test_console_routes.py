"""The console's server side over real HTTP, on SQLite and PostgreSQL.

The gateway runs on a loopback port without its worker, so the messages of two posted
beschikkingen stay queued and the actions (park, replay, pause, handled) act on them.
What is checked here is what a browser cannot be trusted with: CSRF refusals, role
refusals on POST, security headers, cookie attributes, session expiry, the masking of
BSNs and the audit of every action and reveal.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select, update

from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.ops_tables import OperatorSession, RouteControl
from gateway.store.security_tables import AuditEntry
from gateway.store.tables import Message
from gateway.store.tracking_tables import Deadline
from tests.conftest import AUTH, BSN, TEST_API_KEY, beschikking_body, make_settings
from tests.console.traffic import PASSWORD, add_operators
from tests.live_server import live_server

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    runtime: Runtime
    url: str
    message_ids: list[int]
    clients: list[httpx.Client] = field(default_factory=list)

    def browser(self) -> httpx.Client:
        """A fresh cookie jar: one browser (closed with the fixture)."""
        client = httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)
        self.clients.append(client)
        return client

    def login(self, name: str) -> tuple[httpx.Client, str]:
        """A client with a session for ``name`` (created on first use), and the session's CSRF token."""
        add_operators(self.runtime, name)
        client = self.browser()
        page = client.get("/console/login")
        response = client.post(
            "/console/login",
            data={
                "username": name,
                "password": PASSWORD,
                "csrf_token": _csrf(page.text),
                "next": "/console/",
            },
        )
        assert response.status_code == 303, response.text
        return client, _csrf(client.get("/console/").text)

    def state(self, message_id: int) -> str:
        with self.runtime.sessions() as session:
            message = session.get(Message, message_id)
            assert message is not None
            return message.state

    def audit(self, action: str) -> list[AuditEntry]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html[:500]
    return found.group(1)


@pytest.fixture
def console(database_url: str, tmp_path: Path) -> Iterator[Console]:
    runtime = Runtime.create(make_settings(database_url, tmp_path))
    with transaction(runtime.sessions) as session:
        create_client(session, "test-backoffice", list(ALL_SCOPES), runtime.clock.now(), key=TEST_API_KEY)
    try:
        with live_server(create_app(runtime)) as url, httpx.Client(base_url=url, timeout=10) as api:
            ids = []
            # One client, two aanbieders, two periods (no overlapping toewijzing, TR302).
            for agb, begin, end in (
                ("99990001", "2026-12-01", "2027-05-31"),
                ("99990002", "2027-06-01", "2027-11-30"),
            ):
                body = beschikking_body(periode={"begindatum": begin, "einddatum": end})
                body["producten"][0]["aanbieder_agb"] = agb  # type: ignore[index]
                response = api.post("/api/v1/beschikkingen", json=body, headers=AUTH)
                assert response.status_code == 201, response.text
                ids.append(int(response.json()["berichten"][0]["id"]))
            console = Console(runtime, url, ids)
            yield console
            for client in console.clients:
                client.close()
    finally:
        runtime.close()


def _assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_without_a_session_every_page_leads_to_login_with_security_headers(console: Console) -> None:
    client = console.browser()
    for path in (
        "/console/",
        "/console/berichten",
        "/console/alerts",
        "/console/reports",
        "/console/jobs",
    ):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=")
        _assert_security_headers(response)
    login = client.get("/console/login")
    assert login.status_code == 200
    _assert_security_headers(login)
    assert client.get("/console/fragments/overview").status_code == 401  # the page script reloads
    css = client.get("/console/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/console/static/app.py").status_code == 404  # two files only, by name


def test_a_back_office_api_key_does_not_open_the_console(console: Console) -> None:
    client = console.browser()
    for headers in (AUTH, {"Authorization": f"Bearer {TEST_API_KEY}"}):
        assert client.get("/console/", headers=headers).status_code == 303
        assert client.get("/console/fragments/overview", headers=headers).status_code == 401
        refused = client.post(f"/console/berichten/{console.message_ids[0]}/park", headers=headers)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/console/login")
    assert console.state(console.message_ids[0]) == "queued"


def test_login_cookie_is_strict_and_http_only_and_a_forged_login_is_refused(console: Console) -> None:
    add_operators(console.runtime, "olga")
    client = console.browser()
    page = client.get("/console/login")
    forged = client.post(
        "/console/login", data={"username": "olga", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 403 and "gw_ops_session" not in forged.headers.get("set-cookie", "")
    page = client.get("/console/login")  # every login page sets a fresh double-submit token
    wrong = client.post(
        "/console/login",
        data={"username": "olga", "password": "not-the-password", "csrf_token": _csrf(page.text)},
    )
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    page = client.get("/console/login")
    ok = client.post(
        "/console/login",
        data={
            "username": "olga",
            "password": PASSWORD,
            "csrf_token": _csrf(page.text),
            "next": "//evil.example/",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/console/"  # no open redirect
    cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith("gw_ops_session="))
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/console"} <= attributes
    assert "secure" not in attributes  # development mode over plain HTTP; production adds it


def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(console: Console) -> None:
    message_id = console.message_ids[0]
    olga, token = console.login("olga")
    _other, other_token = console.login("priya")
    path = f"/console/berichten/{message_id}/park"
    missing = olga.post(path, data={"reason": "checking the CSRF guard"})
    assert missing.status_code == 403 and "security token" in missing.text
    _assert_security_headers(missing)
    foreign = olga.post(path, data={"reason": "checking the CSRF guard", "csrf_token": other_token})
    assert foreign.status_code == 403
    assert console.state(message_id) == "queued"
    assert console.audit("bericht.parked") == []

    done = olga.post(path, data={"reason": "aanbieder asked to hold it", "csrf_token": token})
    assert (
        done.status_code == 303 and done.headers["location"] == f"/console/berichten/{message_id}?done=parked"
    )
    assert console.state(message_id) == "parked"
    [entry] = console.audit("bericht.parked")
    assert (entry.actor, entry.target, entry.reason) == (
        "olga",
        f"bericht:{message_id}",
        "aanbieder asked to hold it",
    )


def test_a_viewer_sees_no_actions_and_is_refused_when_posting_anyway(console: Console) -> None:
    message_id = console.message_ids[0]
    victor, token = console.login("victor")
    detail = victor.get(f"/console/berichten/{message_id}")
    assert detail.status_code == 200
    assert "Park…" not in detail.text and "Replay…" not in detail.text and "reveal" not in detail.text
    assert ">Pause<" not in victor.get("/console/").text
    assert victor.get(f"/console/berichten/{message_id}/confirm/park").status_code == 403
    refused = victor.post(
        f"/console/berichten/{message_id}/park", data={"reason": "trying", "csrf_token": token}
    )
    assert refused.status_code == 403 and "role" in refused.text
    paused = victor.post(
        "/console/routes/pause", data={"route": "ggk:99990001", "reason": "trying", "csrf_token": token}
    )
    assert paused.status_code == 403
    assert console.state(message_id) == "queued"
    with console.runtime.sessions() as session:
        assert session.scalar(select(RouteControl)) is None


def test_an_expired_session_sends_the_browser_to_login(console: Console) -> None:
    olga, _token = console.login("olga")
    assert olga.get("/console/").status_code == 200
    past = console.runtime.clock.now() - timedelta(minutes=1)
    with transaction(console.runtime.sessions) as session:
        session.execute(update(OperatorSession).values(expires_at=past))
    expired = olga.get("/console/alerts")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/console/login?next=/console/alerts&expired=1"
    assert olga.get("/console/fragments/overview").status_code == 401
    assert "session has ended" in olga.get(expired.headers["location"]).text


def test_search_masks_the_bsn_and_only_a_privacy_officer_reveals_it_audited(console: Console) -> None:
    message_id = console.message_ids[0]
    olga, olga_token = console.login("olga")
    priya, priya_token = console.login("priya")
    found = olga.post("/console/berichten", data={"bsn": BSN, "csrf_token": olga_token})
    assert found.status_code == 200 and "2 messages" in found.text
    results = found.text[found.text.index('data-testid="results"') :]
    assert BSN not in results and results.count("*****0006") == 2  # the form keeps what was typed
    by_url = olga.get("/console/berichten", params={"bsn": BSN, "state": "queued"})
    assert "never goes in a URL" in by_url.text and BSN not in by_url.text
    assert BSN not in olga.get(f"/console/berichten/{message_id}").text

    reason = {"reason": "call from the aanbieder, ticket 17", "csrf_token": olga_token}
    assert olga.post(f"/console/berichten/{message_id}/reveal", data=reason).status_code == 403
    assert console.audit("bsn.revealed") == []
    refused = priya.post(f"/console/berichten/{message_id}/reveal", data={"csrf_token": priya_token})
    assert refused.status_code == 422 and BSN not in refused.text  # a reason is required
    revealed = priya.post(
        f"/console/berichten/{message_id}/reveal",
        data={"reason": "call from the aanbieder, ticket 17", "csrf_token": priya_token},
    )
    assert revealed.status_code == 200 and BSN in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    [entry] = console.audit("bsn.revealed")
    assert (entry.actor, entry.target) == ("priya", f"bericht:{message_id}")
    assert entry.reason == "call from the aanbieder, ticket 17"


def _wait_for_job(client: httpx.Client, location: str) -> str:
    deadline = time.monotonic() + 15
    while True:
        page = client.get(location).text
        if "state-done" in page or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def test_replay_of_a_filtered_set_runs_as_a_job_and_escapes_what_people_typed(console: Console) -> None:
    olga, token = console.login("olga")
    for message_id in console.message_ids:
        olga.post(f"/console/berichten/{message_id}/park", data={"reason": "hold", "csrf_token": token})
    form = olga.post("/console/replay/new", data={"state": "parked", "csrf_token": token})
    assert form.status_code == 200 and 'name="state" value="parked"' in form.text
    reason = "<script>alert(1)</script> GGk outage over"
    preview = olga.post(
        "/console/replay/preview", data={"state": "parked", "reason": reason, "csrf_token": token}
    )
    assert preview.status_code == 200
    assert (
        "<script>alert(1)</script>" not in preview.text
        and "&lt;script&gt;alert(1)&lt;/script&gt;" in preview.text
    )
    assert re.search(r'data-testid="replay-total">2<', preview.text)
    job_id = int(re.search(r"/console/replay/(\d+)/confirm", preview.text).group(1))  # type: ignore[union-attr]
    confirmation = re.search(r'name="confirmation" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    assert (
        olga.post(f"/console/replay/{job_id}/confirm", data={"confirmation": confirmation}).status_code == 403
    )
    started = olga.post(
        f"/console/replay/{job_id}/confirm", data={"confirmation": confirmation, "csrf_token": token}
    )
    assert started.status_code == 303 and started.headers["location"] == f"/console/jobs/{job_id}"
    page = _wait_for_job(olga, started.headers["location"])
    assert "2 of 2" in page and "<script>alert" not in page
    with console.runtime.sessions() as session:
        replays = session.scalars(select(Message).where(Message.replay_of_id.is_not(None))).all()
        assert sorted(m.replay_of_id or 0 for m in replays) == sorted(console.message_ids)
        assert all(m.state == "queued" for m in replays)
    assert [e.target for e in console.audit("bericht.replayed")] == [f"replay_job:{job_id}"]


def test_pause_resume_and_mark_handled_go_through_a_reasoned_confirmation(console: Console) -> None:
    message_id = console.message_ids[0]
    olga, token = console.login("olga")
    confirm = olga.get("/console/routes/confirm", params={"action": "pause", "route": "ggk:99990001"})
    assert confirm.status_code == 200 and 'name="reason"' in confirm.text and "required" in confirm.text
    no_reason = olga.post("/console/routes/pause", data={"route": "ggk:99990001", "csrf_token": token})
    assert no_reason.status_code == 422
    paused = olga.post(
        "/console/routes/pause",
        data={"route": "ggk:99990001", "reason": "aanbieder migrating", "csrf_token": token},
    )
    assert paused.status_code == 303
    assert "paused" in olga.get("/console/fragments/overview").text
    with console.runtime.sessions() as session:
        assert session.get(RouteControl, "ggk:99990001").paused  # type: ignore[union-attr]
    olga.post("/console/routes/resume", data={"route": "ggk:99990001", "reason": "done", "csrf_token": token})
    with console.runtime.sessions() as session:
        assert not session.get(RouteControl, "ggk:99990001").paused  # type: ignore[union-attr]

    with transaction(console.runtime.sessions) as session:
        deadline = session.scalars(select(Deadline).where(Deadline.message_id == message_id)).one()
        deadline.overdue_at = console.runtime.clock.now()
        deadline_id = deadline.id
    detail = olga.get(f"/console/berichten/{message_id}").text
    assert f"/console/deadlines/{deadline_id}/confirm" in detail
    handled = olga.post(
        f"/console/deadlines/{deadline_id}/handled",
        data={"reason": "called the aanbieder", "message_id": str(message_id), "csrf_token": token},
    )
    assert handled.status_code == 303 and handled.headers["location"].endswith("?done=handled")
    with console.runtime.sessions() as session:
        assert session.get(Deadline, deadline_id).handled_by == "olga"  # type: ignore[union-attr]
    assert [e.action for e in console.audit("route.paused") + console.audit("route.resumed")] == [
        "route.paused",
        "route.resumed",
    ]


def test_reports_page_and_csv_carry_no_bsn(console: Console) -> None:
    olga, _token = console.login("olga")
    page = olga.get("/console/reports", params={"dimension": "aanbieder"})
    assert page.status_code == 200 and "<svg" in page.text and "99990002" in page.text
    csv = olga.get("/console/reports.csv", params={"dimension": "aanbieder"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.text.splitlines()[0].startswith("aanbieder,") and BSN not in csv.text
    assert olga.get("/console/reports", params={"dimension": "bsn"}).status_code == 422
    unknown = olga.get("/console/no-such-page")
    assert unknown.status_code == 404 and "no such page" in unknown.text
    _assert_security_headers(unknown)


def test_a_replay_of_1000_parked_messages_is_one_job_with_progress_and_links(console: Console) -> None:
    """The issue's figure: 1,000 parked messages, one job, each replay linked to its original."""
    with transaction(console.runtime.sessions) as session:
        template = session.get(Message, console.message_ids[0])
        assert template is not None
        columns = [c.key for c in Message.__table__.columns if c.key != "id"]
        base = {name: getattr(template, name) for name in columns}
        rows = []
        for _ in range(1000):
            ref = str(uuid.uuid4())
            rows.append(
                base
                | {
                    "state": "parked",
                    "referentienummer": ref,
                    "wire_body": template.wire_body.replace(template.referentienummer.encode(), ref.encode()),
                }
            )
        session.execute(insert(Message), rows)
    olga, token = console.login("olga")
    preview = olga.post(
        "/console/replay/preview",
        data={"state": "parked", "reason": "GGk routing restored", "csrf_token": token},
    )
    assert re.search(r'data-testid="replay-total">1000<', preview.text), preview.text[-2000:]
    job_id = int(re.search(r"/console/replay/(\d+)/confirm", preview.text).group(1))  # type: ignore[union-attr]
    confirmation = re.search(r'name="confirmation" value="([^"]+)"', preview.text).group(1)  # type: ignore[union-attr]
    olga.post(f"/console/replay/{job_id}/confirm", data={"confirmation": confirmation, "csrf_token": token})
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        fragment = olga.get(f"/console/fragments/jobs/{job_id}").text
        seen.append(int(re.search(r'data-testid="job-progress">(\d+) of 1000<', fragment).group(1)))  # type: ignore[union-attr]
        if "data-refresh-stop" in fragment:
            break
        time.sleep(0.1)
    assert seen[-1] == 1000 and seen == sorted(seen)  # progress only moves forward, to the end
    assert "1000 replayed" in fragment and "0 failed" in fragment
    with console.runtime.sessions() as session:
        originals = session.scalars(
            select(Message.replay_of_id).where(Message.replay_of_id.is_not(None))
        ).all()
    assert len(originals) == len(set(originals)) == 1000
