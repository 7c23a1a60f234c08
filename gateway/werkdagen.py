"""Dutch working days (werkdagen): the unit every deadline in the iJw/iWmo chain is counted in.

A werkdag is a weekday that is not a national holiday. The national holidays come from
the ``holidays`` package (``country_holidays("NL")``); which of them count is a policy
choice, so the calendar is configurable:

- Good Friday is in the package's list but is not a general day off in the Netherlands;
  by default it is a werkdag (``werkdagen_excluded_holidays = ["Good Friday"]``).
- Bevrijdingsdag (5 May) is a day off in lustrum years (2025, 2030 ...) by collective
  agreement; the package lists it in those years. A gemeente that follows another
  agreement excludes ``"Liberation Day"`` or adds dates to ``werkdagen_extra_free_days``.

Deadlines end at the end of the Dutch calendar day (23:59:59.999 Europe/Amsterdam),
whatever the season: :func:`deadline_at` converts through the time zone, so the UTC
instant shifts by an hour across daylight-saving changes while the local end of day
stays put.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import holidays

from gateway.clock import NL

if TYPE_CHECKING:
    from gateway.settings import Settings

#: The last moment of a Dutch calendar day that a deadline on that day still includes.
END_OF_DAY = time(23, 59, 59, 999000)
DEFAULT_EXCLUDED_HOLIDAYS: tuple[str, ...] = ("Good Friday",)
#: The holiday names are looked up in both languages, so settings may use either.
_LANGUAGES = ("en_US", "nl")


class WerkdagKalender:
    """A working-day calendar: weekends, NL national holidays (minus exclusions), extra days off.

    Holidays are computed once per year and cached; instances are safe to share
    between threads.
    """

    def __init__(
        self,
        *,
        extra_free_days: Iterable[date] = (),
        excluded_holidays: Iterable[str] = DEFAULT_EXCLUDED_HOLIDAYS,
    ) -> None:
        self.extra_free_days = frozenset(extra_free_days)
        self.excluded_holidays = frozenset(name.strip().casefold() for name in excluded_holidays)
        self._years: dict[int, frozenset[date]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> WerkdagKalender:
        return cls(
            extra_free_days=settings.werkdagen_extra_free_days,
            excluded_holidays=settings.werkdagen_excluded_holidays,
        )

    def free_days(self, year: int) -> frozenset[date]:
        """Every non-weekend day off in ``year``: the holidays that count plus the extra days."""
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._years.get(year)
            if cached is None:
                cached = self._compute(year)
                self._years[year] = cached
        return cached

    def _compute(self, year: int) -> frozenset[date]:
        # Per date, per holiday on it (one date can carry several, "X; Y"), its names in
        # every language: a holiday is excluded when any of its names is.
        named: dict[date, list[set[str]]] = {}
        for language in _LANGUAGES:
            calendar = holidays.country_holidays("NL", years=year, language=language)
            for day, name in calendar.items():
                parts = [part.strip().casefold() for part in name.split(";")]
                slots = named.setdefault(day, [set() for _ in parts])
                for slot, part in zip(slots, parts, strict=False):
                    slot.add(part)
        days = {
            day
            for day, per_holiday in named.items()
            if any(names.isdisjoint(self.excluded_holidays) for names in per_holiday)
        }
        days.update(day for day in self.extra_free_days if day.year == year)
        return frozenset(days)

    def is_werkdag(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.free_days(day.year)

    def add_werkdagen(self, start: date, n: int) -> date:
        """The date ``n`` werkdagen after ``start``; ``start`` itself is not counted.

        ``add_werkdagen(friday, 1)`` is the next Monday (if that is a werkdag);
        ``n == 0`` returns ``start`` unchanged.
        """
        if n < 0:
            raise ValueError("n must be zero or more werkdagen")
        day = start
        remaining = n
        while remaining:
            day += timedelta(days=1)
            if self.is_werkdag(day):
                remaining -= 1
        return day

    def werkdagen_between(self, a: date, b: date) -> int:
        """The werkdagen ``d`` with ``a < d <= b``; negative when ``b`` is before ``a``.

        The inverse of :meth:`add_werkdagen`: ``werkdagen_between(a, add_werkdagen(a, n)) == n``.
        """
        if b < a:
            return -self.werkdagen_between(b, a)
        return sum(1 for offset in range(1, (b - a).days + 1) if self.is_werkdag(a + timedelta(days=offset)))

    def deadline_at(self, moment: datetime | date, n: int) -> datetime:
        """The end (23:59:59.999 Dutch time) of the ``n``-th werkdag after ``moment``, in UTC.

        A ``datetime`` (aware) counts from its Dutch calendar date - 23:30 UTC on a Friday
        is already Saturday in Amsterdam; a ``date`` is taken as a Dutch calendar date.
        """
        if isinstance(moment, datetime):
            if moment.tzinfo is None:
                raise ValueError("deadline_at needs an aware datetime")
            local_date = moment.astimezone(NL).date()
        else:
            local_date = moment
        due = self.add_werkdagen(local_date, n)
        return datetime.combine(due, END_OF_DAY, tzinfo=NL).astimezone(UTC)


#: The calendar with the default policy (the package's NL list minus Good Friday).
DEFAULT_CALENDAR = WerkdagKalender()


def is_werkdag(day: date, calendar: WerkdagKalender = DEFAULT_CALENDAR) -> bool:
    return calendar.is_werkdag(day)


def add_werkdagen(start: date, n: int, calendar: WerkdagKalender = DEFAULT_CALENDAR) -> date:
    return calendar.add_werkdagen(start, n)


def werkdagen_between(a: date, b: date, calendar: WerkdagKalender = DEFAULT_CALENDAR) -> int:
    return calendar.werkdagen_between(a, b)


def deadline_at(moment: datetime | date, n: int, calendar: WerkdagKalender = DEFAULT_CALENDAR) -> datetime:
    return calendar.deadline_at(moment, n)
