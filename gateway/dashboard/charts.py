"""Geometry for the server-rendered SVG bar charts of the overview.

No chart library: the template draws rects from these numbers, so charts render
without JavaScript, theme through CSS variables, and carry a title, a description
and a table for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

WIDTH = 640
HEIGHT = 180
PAD_LEFT = 52
PAD_BOTTOM = 22
PAD_TOP = 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str  # the day, for the tooltip and table
    value_label: str


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    x_labels: list[XLabel]
    baseline: float
    plot_left: int
    total_label: str
    peak_label: str


def nice_ceiling(value: float) -> float:
    """The smallest 1/2/2.5/5 × 10^n at or above value, so axis labels read well."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    base = 10**exponent
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * base:
            return step * base
    return 10 * base


def bar_chart(
    days: Sequence[date],
    values: Sequence[float],
    fmt: Callable[[float], str],
    axis_fmt: Callable[[float], str],
) -> BarChart:
    top = nice_ceiling(max(values, default=0))
    plot_w = WIDTH - PAD_LEFT
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(values), 1)
    gap = max(slot * 0.22, 1.5)
    baseline = PAD_TOP + plot_h
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = (value / top) * plot_h if value > 0 else 0
        if 0 < h < 1.5:
            h = 1.5  # keep tiny non-zero days visible
        bars.append(
            Bar(
                x=round(PAD_LEFT + i * slot + gap / 2, 2),
                y=round(baseline - h, 2),
                w=round(slot - gap, 2),
                h=round(h, 2),
                label=day.strftime("%b %-d"),
                value_label=fmt(value),
            )
        )
    ticks = [Tick(y=round(baseline - plot_h * f, 2), label=axis_fmt(top * f)) for f in (0, 0.5, 1)]
    x_labels = [
        XLabel(x=round(PAD_LEFT + i * slot + slot / 2, 2), label=days[i].strftime("%b %-d"))
        for i in range(0, len(days), 7)
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        ticks=ticks,
        x_labels=x_labels,
        baseline=baseline,
        plot_left=PAD_LEFT,
        total_label=fmt(sum(values)),
        peak_label=fmt(max(values, default=0)),
    )


def compact_number(value: float) -> str:
    """12_300 -> '12.3K': axis labels and stat cards."""
    value = float(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= threshold:
            text = f"{value / threshold:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def compact_usd(usd: float) -> str:
    if usd == 0:
        return "$0"
    if usd < 0.01:
        # Enough places for two significant digits: $0.000036, $0.0012.
        places = 2
        while round(usd, places) == 0 or usd < 10 ** -(places - 1):
            places += 1
            if places > 9:
                break
        return f"${usd:.{places}f}".rstrip("0").rstrip(".")
    if usd < 10:
        return "$" + f"{usd:.3f}".rstrip("0").rstrip(".")
    return "$" + compact_number(usd)
