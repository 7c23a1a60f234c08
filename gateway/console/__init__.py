"""The operations console: server-rendered pages under ``/console`` (issue 6).

Jinja2 templates (autoescaped), one stylesheet and a few lines of script for live
refresh - no front-end build step. Every page calls the services of
:mod:`gateway.ops`; this package only renders and guards them (sessions, CSRF, security
headers, roles in the UI; the services check roles again).

========================  =============================================================
module                    pages
========================  =============================================================
``session_pages``         login, logout, the static files
``overview_pages``        overview per party and route, and its live fragment
``message_pages``         search, message detail, the privacy officer's reveal
``action_pages``          confirmations and actions: replay (jobs), park/unpark,
                          pause/resume, mark handled, acknowledge
``report_pages``          alerts, reports with charts, CSV export
``web`` / ``security``    templates, the signed-in operator, CSRF, headers
``charts``                inline SVG bar charts
========================  =============================================================
"""

from __future__ import annotations

from fastapi import APIRouter

from gateway.console import action_pages, message_pages, overview_pages, report_pages, session_pages

router = APIRouter(include_in_schema=False)
for _module in (session_pages, overview_pages, message_pages, action_pages, report_pages):
    router.include_router(_module.router)

__all__ = ["router"]
