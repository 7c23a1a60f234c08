"""What a set run found: the report, and the checks that fill it from the database and the
mock's ledger (see :mod:`tests.faults.set_run`).

- lost: accepted messages that are not ``answered`` once the run has healed;
- stuck: messages ``sending`` with an expired lease;
- re-sends: arrivals at the mock of a referentienummer it had seen; one payload under two
  referentienummers would be a re-send the chain could not recognise as a duplicate;
- retours: each answered message's inbound retour must answer its referentienummer, be the
  one the aanbieder sent, and be processed once (one ``retour.ontvangen`` event) although
  some were sent twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.events import RETOUR_RECEIVED
from gateway.store.tables import Event, InboundMessage, Message, MessageState


@dataclass
class Report:
    n: int
    accepted: int = 0
    refused: list[str] = field(default_factory=list)
    messages: int = 0
    states: dict[str, int] = field(default_factory=dict)
    lost: list[int] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    kills: int = 0
    postgres_crashes: int = 0
    postgres_down_s: float = 0.0
    faults_injected: dict[str, int] = field(default_factory=dict)
    #: Sends the mock drew a fault (or none) for before the run healed.
    sends_under_faults: int = 0
    #: Arrivals at the mock of a referentienummer it had seen before (re-sends).
    resends_seen: int = 0
    resends_accepted_as_duplicate: int = 0
    #: Payloads that reached the mock under more than one referentienummer (must be none).
    resends_with_new_referentienummer: list[str] = field(default_factory=list)
    not_received: list[int] = field(default_factory=list)
    retours_sent_twice: int = 0
    retour_mismatches: list[str] = field(default_factory=list)
    #: Answered messages whose retour.ontvangen event was recorded other than once.
    retour_not_processed_once: list[int] = field(default_factory=list)
    unmatched_inbound: int = 0
    attempts_per_message: float = 0.0
    setup_s: float = 0.0
    submit_s: float = 0.0
    settle_s: float = 0.0
    total_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not (
            self.refused
            or self.lost
            or self.stuck
            or self.resends_with_new_referentienummer
            or self.not_received
            or self.retour_mismatches
            or self.retour_not_processed_once
            or self.unmatched_inbound
        )

    def lines(self) -> list[str]:
        return [
            f"decisions submitted {self.n}, accepted {self.accepted}, refused {len(self.refused)}",
            f"messages {self.messages}, states {dict(sorted(self.states.items()))}",
            f"lost = {len(self.lost)}   (accepted, not answered: {self.lost[:10]})",
            f"stuck = {len(self.stuck)}  (sending with an expired lease: {self.stuck[:10]})",
            f"workers SIGKILLed {self.kills}, PostgreSQL crashed {self.postgres_crashes}x"
            f" (down {self.postgres_down_s:.1f} s)",
            f"sends under faults {self.sends_under_faults}; faults injected {self.faults_injected}",
            f"re-sends the receiver saw {self.resends_seen} (answered IB016: "
            f"{self.resends_accepted_as_duplicate}); with a new referentienummer: "
            f"{len(self.resends_with_new_referentienummer)}; never received: {len(self.not_received)}",
            f"retours sent twice {self.retours_sent_twice}; processed other than once: "
            f"{len(self.retour_not_processed_once)}; mismatched: {len(self.retour_mismatches)};"
            f" unmatched inbound: {self.unmatched_inbound}",
            *(f"  mismatch: {text}" for text in self.retour_mismatches[:5]),
            f"attempts per message {self.attempts_per_message:.2f}",
            f"setup {self.setup_s:.1f} s, submit {self.submit_s:.1f} s,"
            f" settle after healing {self.settle_s:.1f} s, total {self.total_s:.1f} s",
            f"verdict: {'OK' if self.ok else 'FAILED'}",
        ]


def check(
    report: Report,
    engine: Engine,
    message_ids: list[int],
    ledger: list[dict[str, Any]],
    stats: dict[str, int],
) -> None:
    now = datetime.now(UTC)
    with Session(engine) as session:
        rows = session.execute(
            select(
                Message.id,
                Message.state,
                Message.referentienummer,
                Message.lease_expires_at,
                Message.answer_inbound_id,
                Message.attempts,
            ).where(Message.id.in_(message_ids))
        ).all()
        stuck = session.scalars(
            select(Message.id).where(Message.state == MessageState.SENDING, Message.lease_expires_at < now)
        ).all()
        inbound = {
            row.id: row
            for row in session.execute(
                select(InboundMessage.id, InboundMessage.referentienummer, InboundMessage.cross_refnummer)
            ).all()
        }
        unmatched = session.scalar(
            select(func.count()).select_from(InboundMessage).where(InboundMessage.status == "unmatched")
        )
        retour_events = Counter(
            session.scalars(select(Event.message_id).where(Event.type == RETOUR_RECEIVED)).all()
        )

    report.messages = len(rows)
    report.states = dict(Counter(row.state for row in rows))
    report.lost = [row.id for row in rows if row.state != MessageState.ANSWERED]
    report.stuck = list(stuck)
    report.unmatched_inbound = unmatched or 0
    report.attempts_per_message = sum(row.attempts for row in rows) / len(rows) if rows else 0.0

    di01s = [r for r in ledger if r["operation"] == "ggk_Di01" and r["referentienummer"]]
    by_ref = {r["referentienummer"]: r for r in di01s}
    refs_per_payload: dict[str, set[str]] = defaultdict(set)
    for di01 in di01s:
        if di01.get("payload_sha256"):
            refs_per_payload[di01["payload_sha256"]].add(di01["referentienummer"])
    report.resends_with_new_referentienummer = [
        digest for digest, refs in refs_per_payload.items() if len(refs) > 1
    ]
    report.resends_seen = sum(r["times_seen"] - 1 for r in di01s)
    report.resends_accepted_as_duplicate = stats.get("duplicates_seen", 0)
    report.retours_sent_twice = sum(1 for r in di01s if r.get("retours_delivered", 0) > 1)

    for row in rows:
        record = by_ref.get(row.referentienummer)
        if record is None or not record["accepted"]:
            report.not_received.append(row.id)
            continue
        if row.state != MessageState.ANSWERED:
            continue
        answer = inbound.get(row.answer_inbound_id) if row.answer_inbound_id is not None else None
        if answer is None:
            report.retour_mismatches.append(f"message {row.id}: answered without its inbound retour")
        elif answer.cross_refnummer != row.referentienummer:
            report.retour_mismatches.append(f"message {row.id}: retour answers {answer.cross_refnummer}")
        elif answer.referentienummer != record.get("retour_referentienummer"):
            report.retour_mismatches.append(
                f"message {row.id}: retour {answer.referentienummer}, the aanbieder sent "
                f"{record.get('retour_referentienummer')}"
            )
        if retour_events.get(row.id, 0) != 1:
            report.retour_not_processed_once.append(row.id)
