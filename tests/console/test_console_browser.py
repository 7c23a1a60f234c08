"""The console in a real browser: Debian's headless Chromium driven by Playwright.

The gateway and the mock GGk run over loopback (SQLite is enough here; the server-side
routes are tested on both databases in ``test_console_routes.py``). Traffic with
failures goes through first; then an operator logs in, looks at the overview, searches
by BSN, opens a parked message, replays it, follows the job to the end and checks the
new message was answered and is linked to the original.

The main pages are saved as screenshots: to this run's temporary directory (its path is
printed), or with ``CONSOLE_SCREENSHOTS=1`` to ``docs/screenshots/`` to refresh the
README's images (so CI leaves the tree clean). Without ``/usr/bin/chromium``
the test is skipped with the reason - unless ``GATEWAY_REQUIRE_BROWSER=1`` (CI), which
makes it fail instead. Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.ops.alerts import evaluate_alerts
from tests.conftest import PROJECT_ROOT
from tests.console.traffic import PARKED_BSN, PASSWORD, Traffic, add_operators, jeugd_body, produce_traffic
from tests.gateway.stack import Stack, running_stack

CHROMIUM = os.environ.get("GATEWAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
TIMEOUT_MS = 15_000


def _browser_problem() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = _browser_problem()
    if problem is not None:
        if os.environ.get("GATEWAY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GATEWAY_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(f"{problem} (set GATEWAY_REQUIRE_BROWSER=1 to fail instead)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[Stack, Traffic]]:
    tmp_path = tmp_path_factory.mktemp("console-browser")
    database = tmp_path / "gateway.db"
    shutil.copy(sqlite_template, database)
    with running_stack(f"sqlite:///{database}", tmp_path) as running:
        add_operators(running.runtime)
        yield running, produce_traffic(running)


_shots: list[Path] = []


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = SCREENSHOTS if os.environ.get("CONSOLE_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("shots")
    folder.mkdir(parents=True, exist_ok=True)
    _shots[:] = [folder]
    yield folder
    print(f"console screenshots: {folder}")


def _shot(page: Any, name: str) -> None:
    path = _shots[0] / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def _login(page: Any, base: str, name: str, shot: str | None = None) -> None:
    page.goto(f"{base}/console/")
    assert "/console/login" in page.url  # no session: the login page
    if shot:
        _shot(page, shot)
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def test_operator_finds_a_parked_message_replays_it_and_sees_it_answered(
    browser: Any, stack: tuple[Stack, Traffic], screenshots: Path
) -> None:
    running, traffic = stack
    base = running.gateway_url
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    evaluate_alerts(running.runtime)  # the scanner's beat, now: the parked messages raise alerts
    try:
        _login(page, base, "olga", shot="login")
        assert page.inner_text("[data-testid=operator-role]") == "Operator"
        # Overview: the parked messages and the rejected one are counted, per route.
        assert page.inner_text("[data-testid=kpi-parked]").strip() == "2"
        assert page.inner_text("[data-testid=kpi-rejected]").strip() == "1"
        assert page.locator("[data-testid='route-ggk:99990003']").count() == 1
        _shot(page, "overview")

        # Search by BSN (a POST: the BSN never goes in a URL); the results show it masked.
        page.goto(f"{base}/console/berichten")
        page.fill("#f-bsn", PARKED_BSN)
        page.click("[data-testid=search-form] button[type=submit]")
        page.wait_for_selector("[data-testid=result-count]")
        # The client's two parked 301s, and the WMO405 the CAK got for the Wmo one.
        assert page.inner_text("[data-testid=result-count]") == "3 messages"
        links = page.locator("[data-testid=result-link]").all_inner_texts()
        assert set(links) >= {str(i) for i in traffic.parked}
        results = page.inner_text("[data-testid=results]")
        assert PARKED_BSN not in results and "*****0018" in results
        assert PARKED_BSN not in page.url
        _shot(page, "search")

        # Detail of the first parked message: state, timeline, masked payload.
        original = traffic.parked[0]
        page.click(f"[data-testid=result-link]:text-is('{original}')")
        page.wait_for_url(f"{base}/console/berichten/{original}")
        assert page.inner_text("[data-testid=detail-state]") == "parked"
        assert "IB102" in page.inner_text("[data-testid=timeline]")
        payload = page.inner_text("[data-testid=payload]")
        assert PARKED_BSN not in payload and "*****0018" in payload
        _shot(page, "detail")

        # Replay: reason, then the preview with its count, then confirm; the job page follows it.
        page.click("[data-testid=action-replay]")
        page.fill("#reason", "Routing at the GGk fixed (ticket 4711)")
        page.click("[data-testid=replay-preview]")
        assert page.inner_text("[data-testid=replay-total]") == "1"
        _shot(page, "replay-confirm")
        page.click("[data-testid=replay-confirm]")
        page.wait_for_url(re.compile(r".*/console/jobs/\d+$"))
        page.wait_for_selector("[data-testid=job-status] .state-done")  # the page refreshes itself
        assert page.inner_text("[data-testid=job-progress]") == "1 of 1"
        new_link = page.locator("[data-testid=job-new-message]")
        new_id = int(new_link.inner_text().lstrip("#"))
        assert new_id not in (*traffic.parked, *traffic.answered, *traffic.rejected)
        running.wait_for_state(new_id, "answered")
        _shot(page, "replay-job")

        # The replay was delivered and answered, and names its original (and back).
        new_link.click()
        page.wait_for_url(f"{base}/console/berichten/{new_id}")
        assert page.inner_text("[data-testid=detail-state]") == "answered"
        assert page.locator(f"[data-testid=related-replay_of]:text('#{original}')").count() == 1
        page.goto(f"{base}/console/berichten/{original}")
        assert page.locator(f"[data-testid=related-replayed_as]:text('#{new_id}')").count() == 1
        assert page.locator("[data-testid=action-replay]").count() == 0  # replayed once only

        # Alerts: one per parked message, with its window and count.
        page.goto(f"{base}/console/alerts")
        assert "parked" in page.inner_text("[data-testid=alerts]")
        _shot(page, "alerts")

        page.goto(f"{base}/console/reports?dimension=aanbieder")
        report = page.inner_text("[data-testid=report]")
        assert "99990003" in report and "Total" in report
        assert page.locator("svg.chart rect.chart-bar").count() >= 3
        _shot(page, "reports")
        main_pages = {
            "login",
            "overview",
            "search",
            "detail",
            "replay-confirm",
            "replay-job",
            "alerts",
            "reports",
        }
        assert {shot.stem for shot in screenshots.glob("*.png")} >= main_pages
        assert errors == []  # no script errors, no CSP violations
    finally:
        context.close()


def test_a_viewer_watches_the_overview_refresh_but_gets_no_actions(
    browser: Any, stack: tuple[Stack, Traffic]
) -> None:
    from playwright.sync_api import expect

    running, traffic = stack
    base = running.gateway_url
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        _login(page, base, "victor")
        assert page.inner_text("[data-testid=operator-role]") == "Viewer"
        assert page.locator("a.btn:text('Pause')").count() == 0
        # The overview refreshes itself: a message answered now shows up without a reload.
        answered = int(page.inner_text("[data-testid=kpi-answered]"))
        new_id = int(running.post_beschikking(jeugd_body("99990001", "999900031"))["berichten"][0]["id"])
        running.wait_for_state(new_id, "answered")
        # (Polled from here: the console's CSP forbids the eval a wait_for_function would need.)
        expect(page.locator("[data-testid=kpi-answered]")).to_have_text(str(answered + 1), timeout=TIMEOUT_MS)
        page.goto(f"{base}/console/berichten/{traffic.parked[1]}")
        assert page.inner_text("[data-testid=detail-state]") == "parked"
        assert page.locator("[data-testid=actions]").count() == 0
        assert page.locator("[data-testid=reveal-form]").count() == 0
        # Logging out ends the session: the console sends the browser back to the login page.
        page.click("text=Log out")
        page.wait_for_url(re.compile(r".*/console/login\?out=1$"))
        page.goto(f"{base}/console/")
        assert "/console/login" in page.url
    finally:
        context.close()
