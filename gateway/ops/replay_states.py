"""What may be replayed, and the states of replay jobs and their items (gateway.ops.replay)."""

from __future__ import annotations

from datetime import timedelta

from gateway.store.tables import MessageState

REPLAYABLE_STATES = (MessageState.PARKED, MessageState.EXPIRED, MessageState.DELIVERED)
NOT_REPLAYED_PARTIES = ("webhook", "corv")
#: A preview's confirmation token is valid this long.
CONFIRM_WITHIN = timedelta(minutes=15)


class JobStatus:
    PREVIEW = "preview"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class ItemState:
    PENDING = "pending"
    REPLAYED = "replayed"
    FAILED = "failed"
