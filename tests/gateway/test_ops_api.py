"""The ops JSON API end to end: search (BSN only in the body), overview, routes, alerts."""

from __future__ import annotations

from gateway.ops.alerts import evaluate_alerts
from gateway.ops.operators import Role
from gateway.runtime import Runtime
from tests.gateway.ops_helpers import (
    BSN,
    OTHER_BSN,
    bearer,
    cheap,
    insert_messages,
    ops_client,
    three_operators,
)

API = "/ops/api/v1"


def test_search_overview_routes_and_alerts_over_http(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    ops = three_operators(runtime)
    parked = insert_messages(runtime, 3, state="parked", bsn=BSN)
    queued = insert_messages(runtime, 2, state="queued", bsn=OTHER_BSN, route="ggk:99990002")
    evaluate_alerts(runtime)
    with ops_client(runtime) as client:
        viewer, operator = bearer(client, ops[Role.VIEWER].name), bearer(client, ops[Role.OPERATOR].name)
        found = client.post(
            f"{API}/messages/search", json={"bsn": BSN, "page_size": 2}, headers=viewer
        ).json()
        assert (found["total"], found["pages"], [i["id"] for i in found["items"]]) == (3, 2, parked[:0:-1])
        assert BSN not in str(found)
        bad = client.post(f"{API}/messages/search", json={"bsn": "123456789"}, headers=viewer)
        assert bad.status_code == 422 and "123456789" not in bad.text
        listed = client.get(f"{API}/messages", params={"route": "ggk:99990002"}, headers=viewer).json()
        assert [i["id"] for i in listed["items"]] == queued[::-1]
        assert client.get(f"{API}/messages", params={"state": "lost"}, headers=viewer).status_code == 422

        picture = client.get(f"{API}/overview", headers=viewer).json()
        assert picture["by_state"] == {"parked": 3, "queued": 2} and picture["parked"] == 3
        assert picture["open_alerts"] == {"parked": 3}
        assert [r["route"] for r in picture["parties"][0]["routes"]] == ["ggk:99990001", "ggk:99990002"]

        reason = {"reason": "aanbieder 99990002 asked us to wait"}
        assert client.post(f"{API}/routes/ggk:99990002/pause", json=reason, headers=viewer).status_code == 403
        assert (
            client.post(f"{API}/routes/ggk:00000000/pause", json=reason, headers=operator).status_code == 404
        )
        paused = client.post(f"{API}/routes/ggk:99990002/pause", json=reason, headers=operator).json()
        assert paused["paused"] and paused["changed_by"] == ops[Role.OPERATOR].name
        assert client.get(f"{API}/overview", headers=viewer).json()["paused_routes"] == ["ggk:99990002"]

        alerts = client.get(f"{API}/alerts", params={"status": "open"}, headers=viewer).json()["items"]
        assert len(alerts) == 3 and {a["message_id"] for a in alerts} == set(parked)
        acked = client.post(f"{API}/alerts/{alerts[0]['id']}/acknowledge", json={}, headers=operator)
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
        again = client.post(f"{API}/alerts/{alerts[0]['id']}/acknowledge", json={}, headers=operator)
        assert again.status_code == 409
        assert client.get(f"{API}/messages/999999", headers=viewer).status_code == 404
