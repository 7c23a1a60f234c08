"""Reports the gemeente asked for (GATEWAY.md section 8): no BSNs, ever.

Per product, provider (aanbieder), gebiedsteam, law, delivery form or setting:

- counts: toewijzingen, distinct clients (counted by BSN hash, never shown), PGB vs
  ZIN, residential vs ambulant (a product category in ``ops.residential_categories``
  is residential; everything else ambulant), started and stopped care;
- waiting time: toewijzingsdatum -> the start of care the aanbieder reported (305),
  in days (mean and median);
- lead time: our 301 accepted -> its retour received, in hours (mean and median);
- duration: start -> stop of care (307), in days (mean).

The period selects toewijzingen by their toewijzingsdatum. :func:`report_csv` renders a
report for a spreadsheet; :func:`chart_series` gives the data for a simple bar chart.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.bsn import mask_in_text
from gateway.ops.errors import InvalidInput
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Message, MessageToewijzing, Toewijzing
from gateway.store.zorglevering_tables import ZorgleveringMelding, ZorgleveringSoort

DIMENSIONS = ("product", "aanbieder", "gebiedsteam", "wet", "leveringsvorm", "setting")


@dataclass(frozen=True)
class ReportQuery:
    dimension: str = "product"
    #: Toewijzingsdatum from (inclusive) / until (exclusive); None = unbounded.
    date_from: date | None = None
    date_until: date | None = None
    #: jeugdwet | wmo; None = both.
    law: str | None = None


@dataclass
class ReportRow:
    key: str
    toewijzingen: int = 0
    clients: int = 0
    zin: int = 0
    pgb: int = 0
    residential: int = 0
    ambulant: int = 0
    started: int = 0
    stopped: int = 0
    waiting_days_mean: float | None = None
    waiting_days_median: float | None = None
    lead_time_hours_mean: float | None = None
    lead_time_hours_median: float | None = None
    duration_days_mean: float | None = None


@dataclass
class Report:
    query: ReportQuery
    generated_at: datetime
    rows: list[ReportRow]
    total: ReportRow = field(default_factory=lambda: ReportRow("total"))


@dataclass(frozen=True)
class ChartSeries:
    """Bars for a simple chart: one label per bar, one or more named series of values."""

    title: str
    labels: list[str]
    series: dict[str, list[float]]


@dataclass
class _Acc:
    row: ReportRow
    clients: set[str] = field(default_factory=set)
    waiting: list[float] = field(default_factory=list)
    lead: list[float] = field(default_factory=list)
    duration: list[float] = field(default_factory=list)


def _mean(values: list[float], digits: int = 2) -> float | None:
    return round(statistics.fmean(values), digits) if values else None


def _median(values: list[float], digits: int = 2) -> float | None:
    return round(statistics.median(values), digits) if values else None


def build_report(session: Session, runtime: Runtime, query: ReportQuery) -> Report:
    """Aggregate toewijzingen of the period by ``query.dimension``."""
    if query.dimension not in DIMENSIONS:
        raise InvalidInput(f"dimension: one of {', '.join(DIMENSIONS)}")
    if query.date_from and query.date_until and query.date_from >= query.date_until:
        raise InvalidInput("date_from must be before date_until")
    residential = set(runtime.settings.ops.residential_categories)
    statement = select(Toewijzing, Beschikking.gebiedsteam).join(
        Beschikking, Beschikking.id == Toewijzing.beschikking_id
    )
    if query.date_from:
        statement = statement.where(Toewijzing.toewijzingsdatum >= query.date_from)
    if query.date_until:
        statement = statement.where(Toewijzing.toewijzingsdatum < query.date_until)
    if query.law:
        statement = statement.where(Toewijzing.law == query.law)
    rows = session.execute(statement).all()
    ids = [t.id for t, _ in rows]
    starts: dict[int, date] = {}
    stops: dict[int, date] = {}
    lead: dict[int, float] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for nummer, soort, begin, einde in session.execute(
            select(
                ZorgleveringMelding.toewijzingnummer,
                ZorgleveringMelding.soort,
                func.min(ZorgleveringMelding.begindatum),
                func.max(ZorgleveringMelding.einddatum),
            )
            .where(ZorgleveringMelding.toewijzingnummer.in_(chunk), ZorgleveringMelding.actueel.is_(True))
            .group_by(ZorgleveringMelding.toewijzingnummer, ZorgleveringMelding.soort)
        ):
            if soort == ZorgleveringSoort.START:
                starts[nummer] = begin
            elif einde is not None:
                stops[nummer] = einde
        for nummer, created, answered in session.execute(
            select(MessageToewijzing.toewijzing_id, Message.created_at, Message.answered_at)
            .join(Message, Message.id == MessageToewijzing.message_id)
            .where(MessageToewijzing.toewijzing_id.in_(chunk), Message.answered_at.is_not(None))
            .order_by(Message.id)
        ):
            if answered is not None:
                lead.setdefault(nummer, (answered - created).total_seconds() / 3600)

    key_of: dict[str, Callable[[Toewijzing, str | None], str]] = {
        "product": lambda t, _g: f"{t.categorie or '--'} {t.productcode or '(categorie)'}",
        "aanbieder": lambda t, _g: t.aanbieder_agb,
        "gebiedsteam": lambda _t, g: g or "(onbekend)",
        "wet": lambda t, _g: t.law,
        "leveringsvorm": lambda t, _g: t.leveringsvorm,
        "setting": lambda t, _g: "residential" if t.categorie in residential else "ambulant",
    }
    key = key_of[query.dimension]
    groups: dict[str, _Acc] = {}
    total = _Acc(ReportRow("total"))
    for t, gebiedsteam in rows:
        label = mask_in_text(key(t, gebiedsteam))
        for acc in (groups.setdefault(label, _Acc(ReportRow(label))), total):
            r = acc.row
            r.toewijzingen += 1
            acc.clients.add(t.bsn_hash)
            if t.leveringsvorm == "PGB":
                r.pgb += 1
            else:
                r.zin += 1
            if t.categorie in residential:
                r.residential += 1
            else:
                r.ambulant += 1
            if t.id in starts:
                r.started += 1
                acc.waiting.append(float((starts[t.id] - t.toewijzingsdatum).days))
                if t.id in stops:
                    acc.duration.append(float((stops[t.id] - starts[t.id]).days))
            if t.id in stops:
                r.stopped += 1
            if t.id in lead:
                acc.lead.append(lead[t.id])
    for acc in [*groups.values(), total]:
        r = acc.row
        r.clients = len(acc.clients)
        r.waiting_days_mean, r.waiting_days_median = _mean(acc.waiting), _median(acc.waiting)
        # Hours to 4 decimals (a third of a second): a fast retour must not show as 0.
        r.lead_time_hours_mean, r.lead_time_hours_median = _mean(acc.lead, 4), _median(acc.lead, 4)
        r.duration_days_mean = _mean(acc.duration)
    return Report(
        query=query,
        generated_at=runtime.clock.now(),
        rows=sorted((g.row for g in groups.values()), key=lambda r: (-r.toewijzingen, r.key)),
        total=total.row,
    )


CSV_COLUMNS = [f.name for f in fields(ReportRow)]


def report_csv(report: Report) -> str:
    """The report as CSV (comma-separated, header row, a final total row); no BSNs."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.query.dimension, *CSV_COLUMNS[1:]])
    for row in [*report.rows, report.total]:
        writer.writerow(
            ["" if getattr(row, c) is None else mask_in_text(str(getattr(row, c))) for c in CSV_COLUMNS]
        )
    return out.getvalue()


def chart_series(report: Report, *, limit: int = 15) -> ChartSeries:
    """Toewijzingen per group, split ZIN/PGB and residential/ambulant, largest groups first."""
    rows = report.rows[:limit]
    return ChartSeries(
        title=f"Toewijzingen per {report.query.dimension}",
        labels=[r.key for r in rows],
        series={
            "zin": [float(r.zin) for r in rows],
            "pgb": [float(r.pgb) for r in rows],
            "residential": [float(r.residential) for r in rows],
            "ambulant": [float(r.ambulant) for r in rows],
            "waiting_days_mean": [r.waiting_days_mean or 0.0 for r in rows],
        },
    )
