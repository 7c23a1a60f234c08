"""A horizontal bar chart as inline SVG, drawn on the server.

Reports have a few dozen rows at most, and people compare them at a glance: a plain SVG
does that without a JavaScript library, works under the console's strict
Content-Security-Policy (presentation attributes, no ``style``) and prints well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

ROW_HEIGHT = 28
BAR_HEIGHT = 18
LABEL_WIDTH = 150
BAR_AREA = 330
VALUE_WIDTH = 60


@dataclass(frozen=True)
class Bar:
    label: str
    value: float


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".") if value == int(value) else f"{value:,.1f}"


def bar_chart(bars: Sequence[Bar], title: str, unit: str = "") -> Markup:
    """An accessible SVG (role img, a title, one text per bar) sized to its rows."""
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    height = max(1, len(bars)) * ROW_HEIGHT + 8
    top = max((bar.value for bar in bars), default=0.0)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if not bars:
        parts.append(f'<text x="0" y="18" class="chart-empty">{escape("No data in this period")}</text>')
    for index, bar in enumerate(bars):
        y = 4 + index * ROW_HEIGHT
        length = 0.0 if top <= 0 else max(1.0, BAR_AREA * bar.value / top) if bar.value > 0 else 0.0
        label = bar.label if len(bar.label) <= 22 else bar.label[:21] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT - 3}" text-anchor="end" '
            f'class="chart-label">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" rx="2" '
            f'class="chart-bar"><title>{escape(bar.label)}: {escape(_fmt(bar.value) + unit)}</title></rect>'
        )
        parts.append(
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + BAR_HEIGHT - 3}" '
            f'class="chart-value">{escape(_fmt(bar.value))}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped
