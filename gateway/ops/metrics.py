"""Prometheus ``GET /metrics``: the flows, read from the database at scrape time.

Read from the database rather than counted in-process, so that every gateway process
(API, several workers) reports the same truth and nothing is lost on restart.
Labels carry parties, routes (party plus an organisation code such as an AGB code),
message types, states and outcomes - never a BSN, toewijzingnummer, referentienummer
or anything else about a person; :func:`_safe` drops a 9-digit 11-proef number even so.

=========================================  ========================================
metric                                     labels
=========================================  ========================================
gateway_messages                           party, route, type, state
gateway_delivery_attempts_total            party, outcome
gateway_delivery_latency_seconds           party (gauge histogram, last 24 h)
gateway_inbound_messages_total             party, type, status
gateway_overdue_deadlines                  kind (overdue, not marked handled)
gateway_parked_messages                    party, route (not replayed)
gateway_alerts_open                        kind
gateway_replay_jobs                        status
gateway_routes_paused                      -
=========================================  ========================================
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from gateway.bsn import passes_elfproef
from gateway.runtime import Runtime
from gateway.store.ops_tables import OpsAlert, ReplayJob, RouteControl
from gateway.store.tables import DeliveryAttempt, InboundMessage, Message, MessageState
from gateway.store.tracking_tables import Deadline

router = APIRouter(tags=["health"])
LATENCY_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600)


def _safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "redacted" if passes_elfproef(text) else text[:80]


class GatewayCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        with self.runtime.sessions() as session:
            messages = GaugeMetricFamily(
                "gateway_messages", "Outbound messages by state", labels=["party", "route", "type", "state"]
            )
            for party, route, type_, state, count in session.execute(
                select(
                    Message.party, Message.route, Message.message_type, Message.state, func.count(Message.id)
                ).group_by(Message.party, Message.route, Message.message_type, Message.state)
            ):
                messages.add_metric([_safe(party), _safe(route), _safe(type_), _safe(state)], count)
            yield messages

            attempts = CounterMetricFamily(
                "gateway_delivery_attempts", "Delivery attempts by outcome", labels=["party", "outcome"]
            )
            for party, outcome, count in session.execute(
                select(Message.party, DeliveryAttempt.outcome, func.count(DeliveryAttempt.id))
                .join(Message, Message.id == DeliveryAttempt.message_id)
                .group_by(Message.party, DeliveryAttempt.outcome)
            ):
                attempts.add_metric([_safe(party), _safe(outcome)], count)
            yield attempts

            since = self.runtime.clock.now() - timedelta(days=1)
            per_party: dict[str, list[float]] = {}
            for sender_party, created, delivered in session.execute(
                select(Message.party, Message.created_at, Message.delivered_at)
                .where(Message.delivered_at >= since)
                .order_by(Message.id.desc())
                .limit(50000)
            ):
                if delivered is not None:
                    per_party.setdefault(sender_party, []).append(
                        max(0.0, (delivered - created).total_seconds())
                    )
            latency = GaugeHistogramMetricFamily(
                "gateway_delivery_latency_seconds",
                "Accepted to delivered, messages delivered in the last 24 hours",
                labels=["party"],
            )
            for latency_party, values in sorted(per_party.items()):
                buckets = [(str(b), float(sum(v <= b for v in values))) for b in LATENCY_BUCKETS]
                buckets.append(("+Inf", float(len(values))))
                latency.add_metric([_safe(latency_party)], buckets, sum(values))
            yield latency

            inbound = CounterMetricFamily(
                "gateway_inbound_messages",
                "Messages received from chain parties",
                labels=["party", "type", "status"],
            )
            for inbound_party, inbound_type, status, count in session.execute(
                select(
                    InboundMessage.party,
                    InboundMessage.message_type,
                    InboundMessage.status,
                    func.count(InboundMessage.id),
                ).group_by(InboundMessage.party, InboundMessage.message_type, InboundMessage.status)
            ):
                inbound.add_metric([_safe(inbound_party), _safe(inbound_type), _safe(status)], count)
            yield inbound

            overdue = GaugeMetricFamily(
                "gateway_overdue_deadlines", "Missed deadlines not handled", labels=["kind"]
            )
            for kind, count in session.execute(
                select(Deadline.kind, func.count(Deadline.id))
                .where(Deadline.overdue_at.is_not(None), Deadline.handled_at.is_(None))
                .group_by(Deadline.kind)
            ):
                overdue.add_metric([_safe(kind)], count)
            yield overdue

            replay = aliased(Message)
            parked = GaugeMetricFamily(
                "gateway_parked_messages", "Parked messages not replayed", labels=["party", "route"]
            )
            for party, route, count in session.execute(
                select(Message.party, Message.route, func.count(Message.id))
                .where(
                    Message.state == MessageState.PARKED,
                    ~select(replay.id).where(replay.replay_of_id == Message.id).exists(),
                )
                .group_by(Message.party, Message.route)
            ):
                parked.add_metric([_safe(party), _safe(route)], count)
            yield parked

            alerts = GaugeMetricFamily("gateway_alerts_open", "Open operator alerts", labels=["kind"])
            for kind, count in session.execute(
                select(OpsAlert.kind, func.count(OpsAlert.id))
                .where(OpsAlert.status == "open")
                .group_by(OpsAlert.kind)
            ):
                alerts.add_metric([_safe(kind)], count)
            yield alerts

            jobs = GaugeMetricFamily("gateway_replay_jobs", "Replay jobs by status", labels=["status"])
            for status, count in session.execute(
                select(ReplayJob.status, func.count(ReplayJob.id)).group_by(ReplayJob.status)
            ):
                jobs.add_metric([_safe(status)], count)
            yield jobs

            paused = session.scalar(
                select(func.count()).select_from(RouteControl).where(RouteControl.paused.is_(True))
            )
            yield GaugeMetricFamily(
                "gateway_routes_paused", "Routes paused by an operator", value=paused or 0
            )


def render_metrics(runtime: Runtime) -> bytes:
    """The exposition text; a fresh registry per scrape (several apps may share a process)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(runtime))
    return generate_latest(registry)


@router.get("/metrics", summary="Prometheus metrics (no personal data in labels)")
def metrics(request: Request) -> Response:
    return Response(render_metrics(request.app.state.runtime), media_type=CONTENT_TYPE_LATEST)
