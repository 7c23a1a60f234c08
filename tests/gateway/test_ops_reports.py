"""Reports (CSV without BSNs, chart series), Prometheus metrics and health endpoints."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from gateway.bsn import passes_elfproef
from gateway.ops.health import readiness
from gateway.ops.operators import Role
from gateway.ops.reports import ReportQuery, build_report, chart_series, report_csv
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import InboundMessage
from gateway.store.zorglevering_tables import ZorgleveringMelding
from tests.conftest import make_settings
from tests.gateway.ops_helpers import (
    BSN,
    OTHER_BSN,
    bearer,
    beschikking,
    cheap,
    insert_messages,
    ops_client,
    three_operators,
    toewijzing,
)

NINE_DIGITS = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


def _no_bsn(text: str) -> bool:
    return not any(passes_elfproef(m) for m in NINE_DIGITS.findall(text))


def _start(runtime: Runtime, toewijzing_id: int, begin: date, end: date | None = None) -> None:
    with transaction(runtime.sessions) as session:
        inbound = InboundMessage(
            party="ggk", operation="ggk_Di01", status="accepted", body=b"", received_at=runtime.clock.now()
        )
        session.add(inbound)
        session.flush()
        for soort, einde in (("start", None), ("stop", end)):
            if soort == "stop" and end is None:
                continue
            session.add(
                ZorgleveringMelding(
                    soort=soort,
                    law="jeugdwet",
                    bsn_hash="x",
                    toewijzingnummer=toewijzing_id,
                    begindatum=begin,
                    einddatum=einde,
                    status_aanlevering="1",
                    aanbieder_agb="99990001",
                    inbound_id=inbound.id,
                    bericht_identificatie="1",
                    positie=1,
                    actueel=True,
                    received_at=runtime.clock.now(),
                )
            )


def test_reports_count_wait_and_lead_times_without_bsns(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    noord = beschikking(runtime, "JW-R-1", BSN, gebiedsteam="Noord")
    # A gebiedsteam name with a BSN in it (a back-office slip) must not leak into the CSV.
    zuid = beschikking(runtime, "JW-R-2", OTHER_BSN, gebiedsteam=f"Zuid {OTHER_BSN}")
    day = date(2026, 11, 2)
    ambulant = toewijzing(runtime, noord, categorie="45", productcode="45A08", toegewezen=day)
    residential = toewijzing(runtime, noord, categorie="42", productcode="42A01", toegewezen=day)
    toewijzing(runtime, zuid, bsn=OTHER_BSN, leveringsvorm="PGB", aanbieder="SVB", toegewezen=day)
    _start(runtime, ambulant, day + timedelta(days=10), end=day + timedelta(days=40))
    _start(runtime, residential, day + timedelta(days=4))
    insert_messages(runtime, 1, state="answered", toewijzing_id=ambulant)

    with runtime.sessions() as session:
        report = build_report(session, runtime, ReportQuery(dimension="product"))
        by_setting = build_report(session, runtime, ReportQuery(dimension="setting"))
        by_team = build_report(session, runtime, ReportQuery(dimension="gebiedsteam"))
        empty = build_report(session, runtime, ReportQuery(date_from=day + timedelta(days=1)))
    total = report.total
    assert (total.toewijzingen, total.clients, total.zin, total.pgb) == (3, 2, 2, 1)
    assert (total.residential, total.ambulant, total.started, total.stopped) == (1, 2, 2, 1)
    assert total.waiting_days_mean == 7.0 and total.waiting_days_median == 7.0
    assert total.duration_days_mean == 30.0
    products = {r.key: r for r in report.rows}
    assert products["45 45A08"].lead_time_hours_mean == round(5 / 3600, 4)  # answered 5 s after acceptance
    assert products["42 42A01"].lead_time_hours_mean is None  # no 301 answered yet
    assert {r.key: r.toewijzingen for r in by_setting.rows} == {"ambulant": 2, "residential": 1}
    assert {r.key for r in by_team.rows} == {"Noord", "Zuid *****0018"}
    assert empty.total.toewijzingen == 0

    csv_text = report_csv(by_team)
    assert csv_text.splitlines()[0].startswith("gebiedsteam,toewijzingen,clients,zin,pgb")
    assert _no_bsn(csv_text) and OTHER_BSN not in csv_text and BSN not in csv_text
    chart = chart_series(report)
    assert chart.labels == ["45 45A08", "42 42A01"] and chart.series["pgb"] == [1.0, 0.0]

    ops = three_operators(runtime)
    with ops_client(runtime) as client:
        viewer = bearer(client, ops[Role.VIEWER].name)
        response = client.get("/ops/api/v1/reports.csv", params={"dimension": "gebiedsteam"}, headers=viewer)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert _no_bsn(response.text)
        as_json = client.get("/ops/api/v1/reports", params={"dimension": "aanbieder"}, headers=viewer).json()
        assert as_json["total"]["toewijzingen"] == 3 and as_json["chart"]["labels"]
        assert (
            client.get("/ops/api/v1/reports", params={"dimension": "bsn"}, headers=viewer).status_code == 422
        )


def test_metrics_have_no_personal_data_and_health_reports_readiness(runtime: Runtime, tmp_path: Path) -> None:
    runtime = cheap(runtime)
    insert_messages(runtime, 3, state="parked")
    insert_messages(runtime, 2, state="answered", message_type="JW301")
    with ops_client(runtime) as client:
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        text = metrics.text
        assert 'gateway_messages{party="ggk",route="ggk:99990001",state="parked",type="JW301"} 3.0' in text
        assert 'gateway_parked_messages{party="ggk",route="ggk:99990001"} 3.0' in text
        assert "gateway_delivery_latency_seconds_gcount" in text
        assert _no_bsn(text)
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text)  # no referentienummers
        assert client.get("/health/live").json()["status"] == "ok"
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "migrations": "ok"}

    blank = Runtime.create(make_settings(f"sqlite:///{tmp_path / 'blank.db'}", tmp_path))
    try:
        result = readiness(blank, None)
    finally:
        blank.close()
    assert not result["ready"] and result["checks"]["migrations"].startswith("at None")
