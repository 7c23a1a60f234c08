"""Log-in throttling: a growing lock-out after repeated failures, per name and per address.

Without it, ``POST /ops/api/v1/login`` and the console's login form let anyone guess
passwords as fast as Argon2 verifies them, and every failure takes the audit chain's
lock. After ``ops.login_max_failures_per_name`` failures for one typed name (or
``ops.login_max_failures_per_address`` from one client address) within
``ops.login_failure_window_minutes``, further attempts are refused without checking
the password for ``ops.login_lockout_initial_s`` seconds, doubling with each new
lock-out of the same key up to ``ops.login_lockout_max_s``.

The name is counted as typed, known or not, so a refusal never tells whether an
account exists. Only the first refusal of a lock-out is audited.

The state is **per process and in memory** (one throttle per database engine): a
gateway run as several processes allows each of them the limit, and a restart
forgets it. Memory is bounded: at most ``ops.login_throttle_max_entries`` keys are
remembered, the least recently used forgotten first.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from gateway.ops.errors import OpsError
from gateway.settings import OpsSettings


class TooManyAttempts(OpsError):  # noqa: N818 - read as the answer (like Problem), not as an error name
    """Log-ins are locked out for a while for this name or address; ``retry_after_s`` says how long."""

    status = 429
    kind = "too-many-requests"

    def __init__(self, retry_after_s: int) -> None:
        # The same words for every name, known or not.
        super().__init__(f"too many failed log-ins; try again in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Record:
    """The recent failures of one key (a typed name or a client address)."""

    window_start: datetime
    failures: int = 0
    locked_until: datetime | None = None
    #: Lock-outs in a row; each one lasts twice as long as the one before.
    lockouts: int = 0
    refusal_audited: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused attempt: how long to wait, which key is locked, and whether to audit it."""

    retry_after_s: int
    scope: str
    first_of_lockout: bool


class LoginThrottle:
    """Failure counts and lock-outs, thread-safe (the API's handlers run in a thread pool)."""

    def __init__(self) -> None:
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, name: str, address: str | None, now: datetime) -> Refusal | None:
        """A :class:`Refusal` when the name or the address is locked out at ``now``."""
        with self._lock:
            for key in _keys(name, address):
                record = self._records.get(key)
                if record is None or record.locked_until is None or record.locked_until <= now:
                    continue
                first = not record.refusal_audited
                record.refusal_audited = True
                wait = math.ceil((record.locked_until - now).total_seconds())
                return Refusal(retry_after_s=max(wait, 1), scope=key[0], first_of_lockout=first)
        return None

    def failed(self, name: str, address: str | None, now: datetime, settings: OpsSettings) -> None:
        """Count a failure; the one that reaches a limit starts (or lengthens) a lock-out."""
        window = timedelta(minutes=settings.login_failure_window_minutes)
        limits = {
            "name": settings.login_max_failures_per_name,
            "address": settings.login_max_failures_per_address,
        }
        with self._lock:
            for key in _keys(name, address):
                record = self._record(key, now, settings.login_throttle_max_entries)
                quiet_since = record.locked_until or record.window_start
                if record.window_start + window <= now:
                    record.window_start, record.failures = now, 0
                    if quiet_since + window <= now:
                        record.lockouts = 0  # a whole window without trouble: start over
                record.failures += 1
                if record.failures >= limits[key[0]]:
                    record.lockouts += 1
                    seconds = min(
                        settings.login_lockout_initial_s * 2 ** min(record.lockouts - 1, 30),
                        settings.login_lockout_max_s,
                    )
                    record.locked_until = now + timedelta(seconds=seconds)
                    record.window_start, record.failures = now, 0
                    record.refusal_audited = False

    def succeeded(self, name: str) -> None:
        """A correct password forgets the name's failures (not the address's: one valid
        account must not reset the count of guesses at others)."""
        with self._lock:
            self._records.pop(("name", _name_key(name)), None)

    def _record(self, key: tuple[str, str], now: datetime, max_entries: int) -> _Record:
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = _Record(window_start=now)
            while len(self._records) > max_entries:
                self._records.popitem(last=False)
        self._records.move_to_end(key)
        return record

    def __len__(self) -> int:
        return len(self._records)


def _name_key(name: str) -> str:
    return name.strip()[:100]


def _keys(name: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("name", _name_key(name))]
    if address:
        keys.append(("address", address[:100]))
    return keys


_THROTTLES: weakref.WeakKeyDictionary[Engine, LoginThrottle] = weakref.WeakKeyDictionary()
_THROTTLES_LOCK = threading.Lock()


def throttle_for(engine: Engine) -> LoginThrottle:
    """The process's throttle for one database (the API and the console share it)."""
    with _THROTTLES_LOCK:
        throttle = _THROTTLES.get(engine)
        if throttle is None:
            throttle = _THROTTLES[engine] = LoginThrottle()
        return throttle
