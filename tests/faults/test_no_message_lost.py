"""The set test: decisions submitted while the chain misbehaves, workers die and
PostgreSQL crashes - every accepted one is delivered and answered, exactly once.

Runs on a private PostgreSQL cluster (``tests/faults/pg_cluster.py``), never on the
shared server, because it crashes the server. Without PostgreSQL's server binaries
it is skipped with the reason - or fails when ``GATEWAY_REQUIRE_POSTGRES=1`` (CI).
The longer run is ``bench/fault_run.py`` (N = 5,000).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REQUIRE_POSTGRES
from tests.faults.pg_cluster import ClusterUnavailableError, find_server_binaries
from tests.faults.pg_cluster import _server_user as server_user
from tests.faults.set_run import RunConfig, run

#: Heavier weather than the long run's, so that 60 decisions meet every kind of fault.
SUITE_FAULTS = {
    "error_5xx": 0.1,
    "statuses": [500, 502, 503, 504],
    "ggk_error": 0.08,
    "ggk_codes": ["IB103"],
    "timeout": 0.08,
    "drop": 0.08,
    "slow": 0.08,
    "slow_s": 0.2,
    "duplicate_retour": 0.15,
}


@pytest.fixture
def cluster_possible() -> None:
    try:
        find_server_binaries()
        server_user()
    except ClusterUnavailableError as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"GATEWAY_REQUIRE_POSTGRES=1 but a private PostgreSQL cluster is impossible: {exc}")
        pytest.skip(f"the set test needs a private PostgreSQL cluster: {exc}")


@pytest.mark.postgres
def test_no_accepted_message_is_lost_under_faults_kills_and_a_postgres_crash(
    cluster_possible: None, tmp_path: Path
) -> None:
    report = run(RunConfig(n=60, workers=2, faults=SUITE_FAULTS), tmp_path)
    summary = "\n".join(report.lines())
    print(summary)  # shown with -s, and in the failure output

    assert report.accepted == report.n and not report.refused, summary
    assert report.kills >= 1 and report.postgres_crashes == 1, summary
    injected = report.faults_injected
    assert injected.get("error_5xx", 0) + injected.get("ggk_error", 0) > 0, summary  # refused, retried
    assert injected.get("timeout", 0) + injected.get("drop", 0) > 0, summary  # outcome unknown
    assert injected.get("duplicate_retour", 0) > 0 and report.retours_sent_twice > 0, summary
    assert report.lost == [], summary
    assert report.stuck == [], summary
    assert report.not_received == [], summary
    assert report.resends_with_new_referentienummer == [], summary
    assert report.retour_mismatches == [], summary
    assert report.retour_not_processed_once == [], summary
    assert report.unmatched_inbound == 0, summary
    assert report.ok
