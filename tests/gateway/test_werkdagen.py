"""The werkdagen calendar against dates checked by hand in a 2026/2027 Dutch calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.clock import NL
from gateway.settings import Settings
from gateway.werkdagen import (
    WerkdagKalender,
    add_werkdagen,
    deadline_at,
    is_werkdag,
    werkdagen_between,
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 1), False),  # Nieuwjaarsdag (Thursday)
        (date(2026, 1, 2), True),
        (date(2026, 1, 3), False),  # Saturday
        (date(2026, 1, 4), False),  # Sunday
        (date(2026, 4, 3), True),  # Goede Vrijdag: not a general day off (default policy)
        (date(2026, 4, 6), False),  # Tweede Paasdag
        (date(2026, 4, 27), False),  # Koningsdag (Monday)
        (date(2026, 5, 5), True),  # Bevrijdingsdag outside a lustrum year
        (date(2026, 5, 14), False),  # Hemelvaartsdag
        (date(2026, 5, 15), True),  # the Friday after it
        (date(2026, 5, 25), False),  # Tweede Pinksterdag
        (date(2026, 12, 24), True),
        (date(2026, 12, 25), False),  # Eerste Kerstdag (Friday)
        (date(2027, 3, 29), False),  # Tweede Paasdag 2027
        (date(2027, 4, 27), False),  # Koningsdag (Tuesday)
        (date(2027, 5, 6), False),  # Hemelvaartsdag 2027
        (date(2027, 5, 17), False),  # Tweede Pinksterdag 2027
        (date(2027, 12, 27), True),  # Monday after a Christmas that falls on the weekend
        (date(2030, 5, 6), True),  # 5 May 2030 is a Sunday; nothing moves to Monday
    ],
)
def test_is_werkdag(day: date, expected: bool) -> None:
    assert is_werkdag(day) is expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 3, 4), 0, date(2026, 3, 4)),
        (date(2026, 3, 4), 3, date(2026, 3, 9)),  # Wed + 3: Thu, Fri, (weekend), Mon
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday + 1 = Monday
        (date(2026, 3, 7), 1, date(2026, 3, 9)),  # from a Saturday
        (date(2026, 12, 23), 3, date(2026, 12, 29)),  # Thu 24, (Fri 25, weekend), Mon 28, Tue 29
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # over Nieuwjaarsdag (Friday) and a weekend
        (date(2026, 4, 2), 3, date(2026, 4, 8)),  # Fri 3 (Goede Vrijdag counts), Tue 7, Wed 8
        (date(2026, 4, 24), 1, date(2026, 4, 28)),  # Friday, then Koningsdag Monday
        (date(2026, 5, 13), 5, date(2026, 5, 21)),  # over Hemelvaartsdag: Fri 15, 18, 19, 20, 21
        (date(2026, 5, 22), 3, date(2026, 5, 28)),  # over Pinksteren: Tue 26, Wed 27, Thu 28
        (date(2027, 3, 25), 10, date(2027, 4, 9)),  # over Pasen 2027 (Mon 29 March off)
        (date(2027, 5, 5), 5, date(2027, 5, 13)),  # over Hemelvaartsdag 2027 (Thu 6 May off)
    ],
)
def test_add_werkdagen(start: date, n: int, expected: date) -> None:
    assert add_werkdagen(start, n) == expected
    assert werkdagen_between(start, expected) == n


def test_werkdagen_between_counts_half_open_and_signed() -> None:
    assert werkdagen_between(date(2026, 12, 24), date(2026, 12, 24)) == 0
    assert werkdagen_between(date(2026, 12, 24), date(2026, 12, 28)) == 1
    assert werkdagen_between(date(2026, 12, 28), date(2026, 12, 24)) == -1
    # A whole year: 365 days minus 104 weekend days minus the weekday holidays of 2026
    # (1 Jan, 6 Apr, 27 Apr, 14 May, 25 May, 25 Dec; 5 Apr, 24 May and 26 Dec are weekend days).
    assert werkdagen_between(date(2025, 12, 31), date(2026, 12, 31)) == 365 - 104 - 6


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError, match="zero or more"):
        add_werkdagen(date(2026, 1, 5), -1)


def test_deadline_is_end_of_dutch_day_in_utc_across_dst() -> None:
    # Summer time starts on Sunday 29 March 2026: a Friday deadline + 1 lands on Monday (CEST).
    due = deadline_at(datetime(2026, 3, 27, 9, 0, tzinfo=UTC), 1)
    assert due == datetime(2026, 3, 30, 21, 59, 59, 999000, tzinfo=UTC)
    assert due.astimezone(NL).replace(tzinfo=None) == datetime(2026, 3, 30, 23, 59, 59, 999000)
    # Winter time from Sunday 25 October 2026: the same local end of day is one hour later in UTC.
    due = deadline_at(datetime(2026, 10, 23, 9, 0, tzinfo=UTC), 1)
    assert due == datetime(2026, 10, 26, 22, 59, 59, 999000, tzinfo=UTC)


def test_deadline_counts_from_the_dutch_date_not_the_utc_date() -> None:
    # 22:30 UTC on Friday 23 Oct 2026 is 00:30 on Saturday in Amsterdam (CEST).
    friday_night_utc = datetime(2026, 10, 23, 22, 30, tzinfo=UTC)
    assert deadline_at(friday_night_utc, 1) == datetime(2026, 10, 26, 22, 59, 59, 999000, tzinfo=UTC)
    # 21:30 UTC the same Friday is still Friday in Amsterdam: the deadline is still Monday.
    assert deadline_at(friday_night_utc - timedelta(hours=1), 1) == deadline_at(friday_night_utc, 1)
    # ... but on Thursday evening, one hour matters: Thursday 23:30 vs Friday 00:30 local.
    thursday_late = datetime(2026, 10, 22, 21, 30, tzinfo=UTC)  # 23:30 CEST, Thursday
    assert deadline_at(thursday_late, 1).astimezone(NL).date() == date(2026, 10, 23)
    assert deadline_at(thursday_late + timedelta(hours=1), 1).astimezone(NL).date() == date(2026, 10, 26)


def test_deadline_from_a_date_and_refusing_naive_datetimes() -> None:
    assert deadline_at(date(2026, 12, 24), 1).astimezone(NL).date() == date(2026, 12, 28)
    with pytest.raises(ValueError, match="aware"):
        deadline_at(datetime(2026, 12, 24, 12, 0), 1)


def test_the_holiday_policy_is_configurable() -> None:
    # Good Friday as a day off, Liberation Day (lustrum year 2025) as a working day,
    # and a gemeente-wide extra day off.
    calendar = WerkdagKalender(excluded_holidays=["Bevrijdingsdag"], extra_free_days=[date(2026, 12, 24)])
    assert not calendar.is_werkdag(date(2026, 4, 3))
    assert is_werkdag(date(2025, 5, 5)) is False  # default: the package lists it in 2025
    assert calendar.is_werkdag(date(2025, 5, 5))
    assert not calendar.is_werkdag(date(2026, 12, 24))
    assert calendar.add_werkdagen(date(2026, 12, 23), 1) == date(2026, 12, 28)


def test_the_calendar_comes_from_the_settings() -> None:
    settings = Settings(
        _env_file=None,
        werkdagen_excluded_holidays=[],
        werkdagen_extra_free_days=["2026-05-05"],
    )
    calendar = WerkdagKalender.from_settings(settings)
    assert not calendar.is_werkdag(date(2026, 4, 3))  # Goede Vrijdag no longer excluded
    assert not calendar.is_werkdag(date(2026, 5, 5))
    assert Settings(_env_file=None).werkdagen_excluded_holidays == ["Good Friday"]
