"""Small pure parts of the console: cookie attributes, the redirect guard, the SVG chart."""

from __future__ import annotations

import re

from fastapi import Response

from gateway.console import security
from gateway.console.charts import Bar, bar_chart
from gateway.console.web import safe_next
from gateway.settings import Mode, Settings


def _cookie(mode: Mode) -> set[str]:
    response = Response()
    # Only the mode matters here; a full production configuration needs secrets.
    security.set_cookie(response, security.SESSION_COOKIE, "token", Settings.model_construct(mode=mode), 60)
    return {part.strip().lower() for part in response.headers["set-cookie"].split(";")}


def test_the_session_cookie_is_secure_in_production_only() -> None:
    production, development = _cookie(Mode.PRODUCTION), _cookie(Mode.DEVELOPMENT)
    assert {"secure", "httponly", "samesite=strict", "path=/console"} <= production
    assert "secure" not in development and {"httponly", "samesite=strict"} <= development


def test_after_login_only_a_console_path_is_a_target() -> None:
    assert safe_next("/console/berichten?state=parked") == "/console/berichten?state=parked"
    for hostile in (
        "//evil.example/console/",
        "https://evil.example/",
        "/console\\..\\x",
        "/api/v1/events",
        None,
    ):
        assert safe_next(hostile) == "/console/"


def test_the_chart_escapes_labels_and_scales_to_the_largest_bar() -> None:
    svg = str(bar_chart([Bar("<script>x</script>", 10), Bar("Team Noord", 5), Bar("leeg", 0)], "T & <b>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "T &amp; &lt;b&gt;" in svg
    bars = [float(width) for width in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]
    assert bars == [330.0, 165.0, 0.0]
    assert "No data" in str(bar_chart([], "empty"))
