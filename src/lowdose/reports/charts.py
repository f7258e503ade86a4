"""The visit report's four charts, drawn with matplotlib into RGB pictures (PIL images).

matplotlib is imported on the first chart, not with the package, so commands that never draw
start fast. Figures are made with `matplotlib.figure.Figure` and the Agg canvas directly (not
pyplot): no global state, so server threads can draw at the same time.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from lowdose.reports.model import Adherence, DoseStep, MeasureRow, SideEffectRow

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from PIL.Image import Image as Picture

WIDTH_IN = 7.0
DPI = 150
SEVERITY_COLOURS = {1: "#f2c14e", 2: "#f28c28", 3: "#c0392b"}
INK, MUTED, BASELINE, MID_BAND = "#1f3b57", "#8a949e", "#2e7d32", "#c8e6c9"


def _figure(height_in: float, *, left: float = 0.09) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    # Fixed margins: the automatic layout engines cost more than the drawing itself.
    bottom = min(0.45, 0.32 / height_in)
    figure.subplots_adjust(left=left, right=0.98, top=1 - min(0.2, 0.1 / height_in),
                           bottom=bottom, hspace=0.25)
    return figure


def _picture(figure: Figure) -> Picture:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # type: ignore[no-untyped-call, unused-ignore]
    # The raw pixels go straight to the PDF: encoding a PNG only for reportlab to decode it
    # again would double the cost of each chart.
    pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call, unused-ignore]
    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), pixels)
    return rgba.convert("RGB")


def png_bytes(picture: Picture) -> bytes:
    """A chart as a PNG file (for tests and anyone who wants the chart alone)."""
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _x(day: date) -> int:
    # Days as plain numbers with hand-made month ticks: matplotlib's date machinery is slow.
    return day.toordinal()


def _xy(points: Sequence[tuple[date, float]]) -> tuple[Any, Any]:
    """Days and values as arrays: given plain lists, matplotlib looks for masked values one
    element at a time."""
    import numpy as np

    return (np.fromiter((_x(d) for d, _ in points), float, len(points)),
            np.fromiter((v for _, v in points), float, len(points)))


def _style(axes: Axes, ylabel: str) -> None:
    axes.set_ylabel(ylabel, fontsize=8)
    axes.tick_params(labelsize=7)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="y", color="#e5e8eb", linewidth=0.6)


def _dates(axes: Axes, span: tuple[date, date], *, labels: bool = True) -> None:
    """Ticks on the first of each month (every few months for long spans)."""
    first, last = span
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    every = max(1, -(-months // 8))
    ticks: list[int] = []
    names: list[str] = []
    year, month = first.year, first.month
    for n in range(months + 1):
        day = date(year + (month - 1 + n) // 12, (month - 1 + n) % 12 + 1, 1)
        if first <= day <= last + timedelta(days=1) and n % every == 0:
            ticks.append(_x(day))
            names.append(day.strftime("%b %Y") if day.month == 1 or not names
                         else day.strftime("%b"))
    axes.set_xticks(ticks, names if labels else [""] * len(ticks))
    axes.set_xlim(_x(first) - 0.5, _x(last) + 1.5)


def _mark_start(axes: Axes, ldn_start: date | None, effect_from: date | None) -> None:
    if ldn_start is not None:
        axes.axvline(_x(ldn_start), color=INK, linewidth=0.8, linestyle="--")
    if effect_from is not None and effect_from != ldn_start:
        axes.axvline(_x(effect_from), color=MUTED, linewidth=0.8, linestyle=":")


def dose_chart(steps: Sequence[DoseStep], taken: Sequence[tuple[date, float]],
               span: tuple[date, date]) -> Picture:
    """Planned dose steps as a staircase, doses recorded as taken as dots."""
    figure = _figure(1.9)
    axes = figure.add_subplot()
    if steps:
        xs: list[int] = []
        ys: list[float] = []
        for step in steps:
            end = step.end or max(span[1], step.start)
            xs += [_x(step.start), _x(end) + 1]
            ys += [step.dose_mg, step.dose_mg]
        axes.plot(xs, ys, color=INK, linewidth=1.6, label="planned")
    if taken:
        axes.scatter(*_xy(taken), s=5, color=BASELINE, linewidths=0, label="taken (diary)",
                     zorder=3)
    top = max([s.dose_mg for s in steps] + [v for _, v in taken] + [1.0])
    axes.set_ylim(0, top * 1.15)
    _style(axes, "dose (mg)")
    _dates(axes, span)
    if steps or taken:
        axes.legend(fontsize=7, frameon=False, loc="lower right")
    return _picture(figure)


def measures_chart(measures: Sequence[MeasureRow], span: tuple[date, date],
                   ldn_start: date | None, effect_from: date | None) -> Picture:
    """One panel per measure: daily ratings, the baseline mean, and the minimal important
    difference from it (shaded) in the direction of improvement."""
    shown = [m for m in measures if m.series]
    rows = max(1, len(shown))
    figure = _figure(0.35 + 1.1 * rows)
    for number, measure in enumerate(shown, 1):
        axes = figure.add_subplot(rows, 1, number)
        axes.scatter(*_xy(measure.series), s=3, color=INK, alpha=0.6, linewidths=0, zorder=3)
        base = measure.baseline_mean
        if base is not None:
            axes.axhline(base, color=BASELINE, linewidth=1.1)
            if measure.mid_points is not None and measure.direction is not None:
                sign = 1.0 if measure.direction == "higher-is-better" else -1.0
                edge = base + sign * measure.mid_points
                axes.axhspan(min(base, edge), max(base, edge), color=MID_BAND, alpha=0.7,
                             linewidth=0)
        if measure.treatment_mean is not None and effect_from is not None:
            axes.hlines(measure.treatment_mean, _x(effect_from), _x(span[1]) + 1,
                        color="#6a1b9a", linewidth=1.1)
        _mark_start(axes, ldn_start, effect_from)
        axes.set_ylim(-0.5, 10.5)
        axes.set_yticks([0, 5, 10])
        _style(axes, measure.measure)
        _dates(axes, span, labels=number == rows)
    return _picture(figure)


def side_effects_chart(rows: Sequence[SideEffectRow], steps: Sequence[DoseStep],
                       span: tuple[date, date]) -> Picture:
    """A strip per side effect, coloured by severity; dose steps as dotted lines."""
    figure = _figure(0.55 + 0.25 * max(2, len(rows)), left=0.2)
    axes = figure.add_subplot()
    for i, row in enumerate(rows):
        axes.scatter([_x(d) for d, _ in row.days_by_severity], [i] * len(row.days_by_severity),
                     c=[SEVERITY_COLOURS[min(3, max(1, s))] for _, s in row.days_by_severity],
                     marker="s", s=9, linewidths=0)
    for step in steps:
        axes.axvline(_x(step.start), color=MUTED, linewidth=0.6, linestyle=":")
    axes.set_yticks(range(len(rows)), [r.name[:28] for r in rows], fontsize=7)
    axes.set_ylim(max(1, len(rows)) - 0.3, -0.7)
    _style(axes, "")
    axes.grid(False)
    _dates(axes, span)
    return _picture(figure)


def adherence_chart(adherence: Adherence, span: tuple[date, date]) -> Picture:
    """Share of recorded days with the dose taken, week by week."""
    figure = _figure(1.5)
    axes = figure.add_subplot()
    weeks = [_x(w) for w, _, _ in adherence.weekly]
    shares = [100.0 * t / r if r else 0.0 for _, t, r in adherence.weekly]
    axes.bar(weeks, shares, width=5.5, color=INK, align="edge")
    axes.set_ylim(0, 105)
    axes.set_yticks([0, 50, 100])
    _style(axes, "% taken")
    _dates(axes, span)
    return _picture(figure)
