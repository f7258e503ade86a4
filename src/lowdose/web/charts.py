"""Charts as server-rendered SVG (no script): a measure against the dose steps, a side effect
against its expected course, an effect with its interval.

Each builder returns `Markup` for a template. Text inside the SVG is escaped; every chart has
a `<title>` and `<desc>` for screen readers, and the pages show the same numbers as a table.
Styling is by class (app.css): the CSP allows no inline style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 230
LEFT, RIGHT, TOP, BOTTOM = 40, 64, 30, 36
_ids = count(1)


@dataclass(frozen=True)
class DoseStep:
    start: date
    dose_mg: float


@dataclass(frozen=True)
class Window:
    """A span of days shaded on a chart, e.g. when start-up effects are expected."""

    start: date
    end: date


def _x(day: date, first: date, last: date) -> float:
    span = max((last - first).days, 1)
    return LEFT + (day - first).days / span * (WIDTH - LEFT - RIGHT)


def _y(value: float, top_value: float) -> float:
    return TOP + (1 - value / top_value) * (HEIGHT - TOP - BOTTOM)


def _open(title: str, description: str) -> tuple[str, list[str]]:
    ident = f"chart{next(_ids)}"
    head = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{ident}-t">{escape(title)}</title>'
            f'<desc id="{ident}-d">{escape(description)}</desc>')
    return ident, [head]


def _date_axis(parts: list[str], first: date, last: date) -> None:
    base = HEIGHT - BOTTOM
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>')
    ticks = 4
    for i in range(ticks + 1):
        day = first + timedelta(days=round(i * (last - first).days / ticks))
        x = _x(day, first, last)
        anchor = "start" if i == 0 else "end" if i == ticks else "middle"
        parts.append(f'<text x="{x:.1f}" y="{base + 18}" text-anchor="{anchor}">'
                     f'{day.strftime("%-d %b")}</text>')


def _value_axis(parts: list[str], top_value: float, label: str, steps: Sequence[float]) -> None:
    for value in steps:
        y = _y(value, top_value)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    parts.append(f'<text x="4" y="{TOP - 14}">{escape(label)}</text>')


def _dose_line(parts: list[str], steps: Sequence[DoseStep], first: date, last: date,
               top_mg: float) -> None:
    if not steps:
        return
    points: list[str] = []
    shown: set[float] = set()
    for index, step in enumerate(steps):
        start = max(step.start, first)
        end = steps[index + 1].start if index + 1 < len(steps) else last
        if end < first or start > last:
            continue
        shown.add(step.dose_mg)
        y = _y(step.dose_mg, top_mg)
        points += [f"{_x(start, first, last):.1f},{y:.1f}",
                   f"{_x(min(end, last), first, last):.1f},{y:.1f}"]
    if points:
        parts.append(f'<polyline class="dose" points="{" ".join(points)}"/>')
    # Label the doses shown (at most three), not arbitrary tick values.
    doses = sorted(shown)
    for mark in doses if len(doses) <= 3 else (doses[0], doses[len(doses) // 2], doses[-1]):
        parts.append(f'<text x="{WIDTH - RIGHT + 6}" y="{_y(mark, top_mg) + 4:.1f}">'
                     f'{mark:g} mg</text>')


def measure_chart(name: str, series: Sequence[tuple[date, float]],
                  steps: Sequence[DoseStep], first: date, last: date) -> Markup:
    """Daily ratings (0–10, a line with points) and the dose (mg, dashed steps)."""
    doses = [s.dose_mg for s in steps] or [1.0]
    top_mg = max(doses) * 1.25
    described = (f"{name} rated 0 to 10 on {len(series)} days from {first:%-d %B %Y} to "
                 f"{last:%-d %B %Y}, with the dose steps"
                 + (": " + ", ".join(f"{s.dose_mg:g} mg from {s.start:%-d %b}" for s in steps)
                    if steps else " (no plan)"))
    _, parts = _open(f"{name} and dose", described)
    _value_axis(parts, 10, "0–10", (0, 2, 4, 6, 8, 10))
    _date_axis(parts, first, last)
    _dose_line(parts, steps, first, last, top_mg)
    if series:
        points = " ".join(f"{_x(d, first, last):.1f},{_y(v, 10):.1f}" for d, v in series)
        parts.append(f'<polyline class="series" points="{points}"/>')
        if len(series) <= 60:
            parts += [f'<circle class="point" cx="{_x(d, first, last):.1f}" '
                      f'cy="{_y(v, 10):.1f}" r="3"/>' for d, v in series]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (built from escaped text and numbers)


def side_effect_chart(name: str, days: Sequence[tuple[date, int]], expected: Sequence[Window],
                      steps: Sequence[DoseStep], first: date, last: date) -> Markup:
    """Severity (0–3 bars) per day beside the windows in which start-up effects are expected
    to settle (shaded), and the dose steps."""
    described = (f"{name}: felt on {sum(1 for _, s in days if s > 0)} days between "
                 f"{first:%-d %B} and {last:%-d %B %Y}. Shaded: the days after each dose "
                 "change in which start-up effects usually settle.")
    _, parts = _open(f"{name} against its expected course", described)
    for window in expected:
        if window.end < first or window.start > last:
            continue
        x1, x2 = _x(max(window.start, first), first, last), _x(min(window.end, last), first, last)
        parts.append(f'<rect class="expected" x="{x1:.1f}" y="{TOP}" width="{max(x2 - x1, 1):.1f}" '
                     f'height="{HEIGHT - TOP - BOTTOM}"/>')
    _value_axis(parts, 3, "severity", (0, 1, 2, 3))
    _date_axis(parts, first, last)
    span = max((last - first).days, 1)
    bar = max((WIDTH - LEFT - RIGHT) / (span + 1) * 0.8, 1.5)
    for day, severity in days:
        if severity <= 0:
            continue
        x, y = _x(day, first, last), _y(severity, 3)
        parts.append(f'<rect class="severity" x="{x - bar / 2:.1f}" y="{y:.1f}" '
                     f'width="{bar:.1f}" height="{HEIGHT - BOTTOM - y:.1f}"/>')
    doses = [s.dose_mg for s in steps] or [1.0]
    _dose_line(parts, steps, first, last, max(doses) * 1.25)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704


def effect_chart(name: str, estimate: float, low: float, high: float,
                 mid: float | None, lower_is_better: bool) -> Markup:
    """The change from before LDN with its interval, beside zero and the smallest change
    that matters (the MID) in the better direction."""
    reach = max(abs(low), abs(high), mid or 0, 1.0) * 1.2
    width, height, pad = WIDTH, 90, 40

    def x(value: float) -> float:
        return pad + (value + reach) / (2 * reach) * (width - 2 * pad)

    better = -(mid or 0) if lower_is_better else (mid or 0)
    described = (f"{name}: change {estimate:+.1f} points, 90 % interval {low:+.1f} to "
                 f"{high:+.1f}" + (f"; a change of {better:+.1f} would matter" if mid else ""))
    ident = f"chart{next(_ids)}"
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">'
             f'<title id="{ident}-t">{escape(name)}: change since LDN</title>'
             f'<desc id="{ident}-d">{escape(described)}</desc>',
             f'<line class="axis" x1="{pad}" y1="50" x2="{width - pad}" y2="50"/>',
             f'<line class="grid" x1="{x(0):.1f}" y1="10" x2="{x(0):.1f}" y2="70"/>',
             f'<text x="{x(0):.1f}" y="86" text-anchor="middle">no change</text>']
    if mid:
        parts += [f'<line class="dose" x1="{x(better):.1f}" y1="10" x2="{x(better):.1f}" y2="70"/>',
                  f'<text x="{x(better):.1f}" y="10" text-anchor="middle">'
                  f'{better:+g}: matters</text>']
    parts += [f'<line class="series" x1="{x(low):.1f}" y1="50" x2="{x(high):.1f}" y2="50"/>',
              f'<rect class="point" x="{x(low):.1f}" y="44" width="2" height="12"/>',
              f'<rect class="point" x="{x(high) - 2:.1f}" y="44" width="2" height="12"/>',
              f'<circle class="point" cx="{x(estimate):.1f}" cy="50" r="6"/>', "</svg>"]
    return Markup("".join(parts))  # noqa: S704
