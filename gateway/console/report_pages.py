"""Alerts and reports.

Alerts come from :mod:`gateway.ops.alerts` (raised once per subject and state change);
the page lists them with their window and counts and lets an operator acknowledge one.
Reports come from :mod:`gateway.ops.reports`: a table per dimension, two bar charts drawn
as inline SVG on the server (:mod:`gateway.console.charts`) and the same report as CSV,
which carries no BSN.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request, Response

from gateway.console.charts import Bar
from gateway.console.web import ConsoleRoute, User, render, runtime_of
from gateway.ops.alerts import AlertKind, AlertStatus, list_alerts
from gateway.ops.errors import InvalidInput, NotFound
from gateway.ops.reports import DIMENSIONS, Report, ReportQuery, build_report, report_csv

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

ALERT_KINDS = (AlertKind.OVERDUE, AlertKind.PARKED, AlertKind.ROUTE_FAILING, AlertKind.CORV_UNMATCHED)
ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
LAWS = ("jeugdwet", "wmo")
CHART_ROWS = 15


@router.get("/console/alerts")
def alerts_page(
    request: Request, user: User, status: str = AlertStatus.OPEN, kind: str = "", done: str = ""
) -> Response:
    if status not in (*ALERT_STATUSES, "all"):
        raise InvalidInput(f"status: one of {', '.join(ALERT_STATUSES)}, all")
    if kind and kind not in ALERT_KINDS:
        raise InvalidInput(f"kind: one of {', '.join(ALERT_KINDS)}")
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        alerts = list_alerts(
            session, status=None if status == "all" else status, kind=kind or None, limit=200
        )
    return render(
        request,
        user,
        "alerts.html",
        section="alerts",
        alerts=alerts,
        status=status,
        kind=kind,
        kinds=ALERT_KINDS,
        statuses=(*ALERT_STATUSES, "all"),
        notice="Alert acknowledged." if done == "acknowledged" else None,
    )


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field}: a date like 2026-11-29") from None


def _report(request: Request, dimension: str, date_from: str, date_until: str, law: str) -> Report:
    if law and law not in LAWS:
        raise InvalidInput(f"law: one of {', '.join(LAWS)}")
    query = ReportQuery(
        dimension=dimension,
        date_from=_date(date_from, "from"),
        date_until=_date(date_until, "until"),
        law=law or None,
    )
    runtime = runtime_of(request)
    with runtime.sessions() as session:
        return build_report(session, runtime, query)


@router.get("/console/reports")
def reports_page(
    request: Request,
    user: User,
    dimension: str = "product",
    date_from: str = "",
    date_until: str = "",
    law: str = "",
) -> Response:
    report = _report(request, dimension, date_from, date_until, law)
    rows = report.rows[:CHART_ROWS]
    charts = [
        (
            f"Toewijzingen per {dimension}",
            [Bar(r.key, float(r.toewijzingen)) for r in rows],
            "",
        ),
        (
            "Mean waiting time to the start of care",
            [Bar(r.key, r.waiting_days_mean) for r in rows if r.waiting_days_mean is not None],
            " d",
        ),
    ]
    return render(
        request,
        user,
        "reports.html",
        section="reports",
        report=report,
        charts=charts,
        dimensions=DIMENSIONS,
        laws=LAWS,
        form={"dimension": dimension, "date_from": date_from, "date_until": date_until, "law": law},
    )


@router.get("/console/reports.csv")
def reports_csv(
    request: Request,
    user: User,
    dimension: str = "product",
    date_from: str = "",
    date_until: str = "",
    law: str = "",
) -> Response:
    report = _report(request, dimension, date_from, date_until, law)
    filename = f"report-{dimension}-{date.today().isoformat()}.csv"
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/console/{unknown:path}")
def not_found(request: Request, user: User, unknown: str) -> Response:
    """Any other console path: a 404 page with the console's headers (this router comes last)."""
    raise NotFound("There is no such page in the console.")
