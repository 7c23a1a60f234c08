"""The retry policy on its own: exponential growth, the cap, bounded jitter, the horizon."""

from __future__ import annotations

import doctest
import random
from datetime import UTC, datetime, timedelta

import pytest

from gateway.delivery import retry_policy
from gateway.delivery.retry_policy import RetryPolicy, stop_after_days, wait_exponential_jitter
from gateway.settings import RetrySettings

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _policy(jitter: float = 0.0, days: float = 5.0, seed: int = 7) -> RetryPolicy:
    return RetryPolicy(
        wait_exponential_jitter(initial=10, multiplier=2, cap=3600, jitter=jitter, rng=random.Random(seed)),
        stop_after_days(days),
    )


def test_the_module_doctest_holds() -> None:
    result = doctest.testmod(retry_policy)
    assert result.attempted > 0 and result.failed == 0


def test_delays_grow_exponentially_from_the_initial_delay() -> None:
    wait = _policy().wait
    assert [wait.delay(n) for n in range(1, 7)] == [10.0, 20.0, 40.0, 80.0, 160.0, 320.0]
    assert [wait.base_delay(n) for n in range(1, 7)] == [10.0, 20.0, 40.0, 80.0, 160.0, 320.0]


def test_attempt_zero_or_below_is_treated_as_the_first() -> None:
    wait = _policy().wait
    assert wait.base_delay(0) == wait.base_delay(1) == 10.0


def test_delays_are_capped() -> None:
    wait = _policy().wait
    # 10 * 2**8 = 2560, 10 * 2**9 = 5120 > 3600
    assert wait.delay(9) == 2560.0
    assert [wait.delay(n) for n in (10, 11, 20, 200)] == [3600.0] * 4


def test_jitter_stays_within_bounds_and_is_actually_random() -> None:
    wait = _policy(jitter=5.0).wait
    for attempt in range(1, 12):
        samples = [wait.delay(attempt) for _ in range(200)]
        base = wait.base_delay(attempt)
        upper = min(3600.0, base + 5.0)
        assert all(base <= s <= upper for s in samples), (attempt, min(samples), max(samples))
        if upper > base:
            assert len(set(samples)) > 100  # spread, not a constant offset
            assert max(samples) - min(samples) > 4.0  # uses most of the range
        else:
            assert set(samples) == {3600.0}  # jitter never pushes beyond the cap


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    first = _policy(jitter=5.0, seed=42).wait
    second = _policy(jitter=5.0, seed=42).wait
    other = _policy(jitter=5.0, seed=43).wait
    a = [first.delay(n) for n in range(1, 9)]
    assert a == [second.delay(n) for n in range(1, 9)]
    assert a != [other.delay(n) for n in range(1, 9)]
    reference = random.Random(42)
    assert a == [min(3600.0, 10.0 * 2 ** (n - 1) + reference.uniform(0, 5.0)) for n in range(1, 9)]


def test_zero_jitter_does_not_touch_the_rng() -> None:
    rng = random.Random(1)
    state = rng.getstate()
    wait = wait_exponential_jitter(initial=1, multiplier=3, cap=100, jitter=0, rng=rng)
    assert [wait.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 3.0, 9.0, 27.0, 81.0]
    assert rng.getstate() == state


def test_next_attempt_is_now_plus_the_delay() -> None:
    policy = _policy()
    now = T0 + timedelta(minutes=3)
    assert policy.next_attempt(1, T0, now) == now + timedelta(seconds=10)
    assert policy.next_attempt(4, T0, now) == now + timedelta(seconds=80)
    assert policy.next_attempt(50, T0, now) == now + timedelta(hours=1)


def test_next_attempt_with_jitter_falls_in_its_window() -> None:
    policy = _policy(jitter=5.0)
    for _ in range(100):
        next_at = policy.next_attempt(3, T0, T0)
        assert next_at is not None
        assert T0 + timedelta(seconds=40) <= next_at <= T0 + timedelta(seconds=45)


def test_next_attempt_gives_up_past_the_horizon() -> None:
    policy = _policy(days=1)
    # A try exactly at the horizon is still made; one beyond it is not.
    just_in = T0 + timedelta(days=1) - timedelta(seconds=10)
    assert policy.next_attempt(1, T0, just_in) == T0 + timedelta(days=1)
    assert policy.next_attempt(1, T0, just_in + timedelta(microseconds=1)) is None
    # With the capped one-hour delay: 23 h after the first try is the last moment to retry.
    assert policy.next_attempt(30, T0, T0 + timedelta(hours=23)) == T0 + timedelta(days=1)
    assert policy.next_attempt(30, T0, T0 + timedelta(hours=23, seconds=1)) is None


def test_the_horizon_counts_from_the_first_attempt_not_from_now() -> None:
    policy = _policy(days=1)
    now = T0 + timedelta(days=3)
    assert policy.next_attempt(1, T0, now) is None
    assert policy.next_attempt(1, now, now) == now + timedelta(seconds=10)


def test_table_rows_are_cumulative_and_end_at_the_horizon() -> None:
    policy = _policy(days=5)
    rows = policy.table()
    horizon = 5 * 86400
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[:3] == [(1, 10.0, 10.0), (2, 20.0, 30.0), (3, 40.0, 70.0)]
    running = 0.0
    for attempt, delay, cumulative in rows:
        assert delay == policy.wait.base_delay(attempt)
        running += delay
        assert cumulative == pytest.approx(running)
    assert rows[-1][2] <= horizon
    assert rows[-1][2] + policy.wait.base_delay(len(rows) + 1) > horizon
    assert rows[-1][1] == 3600.0
    # 9 growing steps (10..2560 s = 5110 s), then hourly until 5 days are used up.
    assert len(rows) == 9 + (horizon - 5110) // 3600


def test_table_ignores_jitter_and_stops_at_max_rows() -> None:
    assert _policy(jitter=5.0).table() == _policy().table()
    assert len(_policy().table(max_rows=4)) == 4


def test_table_is_empty_when_the_first_delay_exceeds_the_horizon() -> None:
    policy = RetryPolicy(
        wait_exponential_jitter(initial=7200, multiplier=2, cap=7200), stop_after_days(1 / 24)
    )
    assert policy.table() == []


def test_from_settings_maps_every_field() -> None:
    settings = RetrySettings(initial_delay_s=3, multiplier=4, max_delay_s=100, jitter_s=1.5, horizon_days=2)
    policy = RetryPolicy.from_settings(settings)
    assert policy.wait == wait_exponential_jitter(initial=3, multiplier=4, cap=100, jitter=1.5)
    assert policy.stop == stop_after_days(2)
    assert [policy.wait.base_delay(n) for n in (1, 2, 3, 4)] == [3.0, 12.0, 48.0, 100.0]


def test_from_default_settings_is_the_documented_policy() -> None:
    policy = RetryPolicy.from_settings(RetrySettings())
    assert (policy.wait.initial, policy.wait.multiplier, policy.wait.cap, policy.wait.jitter) == (
        10.0,
        2.0,
        3600.0,
        5.0,
    )
    assert policy.stop.days == 5.0
    assert policy.table()[-1][2] <= 5 * 86400
