"""The visit report laid out as a PDF with reportlab's platypus.

Layout rules a reader relies on:
- a chart never splits across pages: each one sits in a `KeepTogether` with its heading and
  caption, so it moves to the next page whole;
- a heading is never left alone at the foot of a page (`keepWithNext`);
- patient text (names, notes, side effects, medicines) is escaped before it reaches
  reportlab's paragraph markup, so it prints as typed and never becomes markup or links.

Text is set in DejaVu Sans, the TTF that ships inside matplotlib: it covers "≥", "−" and
non-Latin names, and needs no system font package.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lowdose.core.outcomes import chance_percent
from lowdose.reports import charts
from lowdose.reports.model import MeasureRow, VisitReport

if TYPE_CHECKING:
    from PIL.Image import Image as Picture

# Patient text needs DejaVu's coverage; bold is only ever our own ASCII labels and headings,
# so it is the built-in Helvetica-Bold: one TrueType file to parse instead of two.
FONT, BOLD = "DejaVuSans", "Helvetica-Bold"
LEVEL_LABELS = {"urgent": "URGENT", "attention": "attention", "info": "info"}
CHART_CAPTIONS = (
    "Figure 1. Dose steps: planned (line) and doses recorded as taken (dots).",
    "Figure 2. Daily ratings (dots); baseline mean (green line); the shaded band reaches the "
    "minimal important difference from baseline in the direction of improvement; the purple "
    "line is the mean after the onset period. Dashed: LDN start; dotted: end of onset period.",
    "Figure 3. Side effects by day, coloured by severity (yellow mild, orange moderate, red "
    "severe); dotted lines mark dose steps.",
    "Figure 4. Share of recorded days with the dose taken, per week.",
)


def text(value: object) -> str:
    """Any text from the record, made inert for reportlab's paragraph markup."""
    # Not xml.sax.saxutils.escape: it imports urllib.request (and http, ssl) for nothing.
    return html.escape(str(value), quote=False).replace('"', "&quot;")


@cache
def _fonts() -> None:
    import matplotlib
    from reportlab import rl_config  # type: ignore[import-untyped, unused-ignore]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped, unused-ignore]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped, unused-ignore]

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    # Binary streams: ASCII85 (the default) is pure Python here and costs more than drawing
    # the charts; a PDF has been a binary format since PDF 1.0.
    rl_config.useA85 = 0
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


@cache
def _styles() -> dict[str, Any]:
    from reportlab.lib import colors  # type: ignore[import-untyped, unused-ignore]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped, unused-ignore]

    body = ParagraphStyle("body", fontName=FONT, fontSize=8.5, leading=11)
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=15, leading=19),
        "h2": ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=11, leading=14,
                             spaceBefore=9, spaceAfter=3, keepWithNext=1,
                             textColor=colors.HexColor("#1f3b57")),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5,
                                textColor=colors.HexColor("#4a5560")),
        "cell": ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.5),
        "head": ParagraphStyle("head", parent=body, fontName=BOLD, fontSize=7.5, leading=9.5),
        "banner": ParagraphStyle("banner", parent=body, fontName=BOLD,
                                 textColor=colors.HexColor("#8a1c1c")),
    }


def filename(patient_id: int, day: date) -> str:
    """A download name that says what the file is without naming the patient."""
    return f"lowdose-visit-report-patient-{patient_id}-{day.isoformat()}.pdf"


def render_pdf(report: VisitReport) -> bytes:
    """The report as PDF bytes."""
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped, unused-ignore]
    from reportlab.lib.units import mm  # type: ignore[import-untyped, unused-ignore]
    from reportlab.platypus import SimpleDocTemplate  # type: ignore[import-untyped, unused-ignore]

    _fonts()
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
        bottomMargin=16 * mm, title="lowdose visit report", author="lowdose",
        subject="Visit report from a self-reported LDN diary", creator="lowdose")
    footer = _footer(report)
    document.build(_story(report, document.width), onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _footer(report: VisitReport) -> Callable[[Any, Any], None]:
    from reportlab.lib.units import mm  # type: ignore[import-untyped, unused-ignore]

    def draw(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillGray(0.35)
        canvas.drawString(document.leftMargin, 9 * mm,
                          f"lowdose visit report · patient {report.patient_id} · "
                          f"{report.generated_at:%Y-%m-%d} · self-reported data · "
                          "supports decisions, does not make them")
        canvas.drawRightString(document.leftMargin + document.width, 9 * mm,
                               f"page {document.page}")
        canvas.restoreState()
    return draw


def _story(report: VisitReport, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph, Spacer  # type: ignore[import-untyped, unused-ignore]

    styles = _styles()
    span = _span(report)
    story: list[Any] = [
        Paragraph(f"Visit report: {text(report.patient_name)}", styles["title"]),
        Paragraph(_subtitle(report), styles["small"]),
    ]
    if report.synthetic:
        story.append(Paragraph("SYNTHETIC RECORD: invented data for demonstration or testing, "
                               "not a real person.", styles["banner"]))
    story += [Spacer(1, 4), *_glance(report)]
    story += _section("Dose steps", [_steps_table(report, width)],
                      charts.dose_chart(report.steps, report.doses_taken, span) if span else
                      None, CHART_CAPTIONS[0], width)
    story += _section("Measures against baseline", [_measures_table(report, width),
                                                    *_measure_summaries(report)],
                      charts.measures_chart(report.measures, span, report.ldn_start,
                                            report.effect_from)
                      if span and any(m.series for m in report.measures) else None,
                      CHART_CAPTIONS[1], width)
    story += _section("Side effects against their expected course",
                      [_side_effects_table(report, width)],
                      charts.side_effects_chart(report.side_effects, report.steps, span)
                      if span and report.side_effects else None, CHART_CAPTIONS[2], width)
    story += _section("Adherence", [_adherence_text(report)],
                      charts.adherence_chart(report.adherence, span)
                      if span and report.adherence.weekly else None, CHART_CAPTIONS[3], width)
    story += _flags_and_events(report, width)
    story += _screen(report, width)
    story += _notes(report)
    story.append(Paragraph("What these numbers can and cannot say", styles["h2"]))
    story += [Paragraph(text(line), styles["body"]) for line in report.uncertainty]
    if report.sources:
        story.append(Paragraph("Sources cited (ids in lowdose knowledge sources): "
                               + text(", ".join(report.sources)), styles["small"]))
    return story


def _span(report: VisitReport) -> tuple[date, date] | None:
    days = [d for d in (report.first_day, report.last_day) if d is not None]
    days += [s.start for s in report.steps]
    return (min(days), max(days)) if days else None


def _subtitle(report: VisitReport) -> str:
    period = (f"{report.first_day} to {report.last_day}, {report.checkin_days} check-in days"
              if report.first_day else "no check-ins recorded")
    start = f"; LDN started {report.ldn_start}" if report.ldn_start else "; no LDN course"
    return text(f"Patient {report.patient_id} · diary {period}{start} · generated "
                f"{_utc(report.generated_at):%Y-%m-%d %H:%M} UTC")


def _utc(moment: datetime) -> datetime:
    # Naive times in lowdose are UTC (services.context.Context).
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _glance(report: VisitReport) -> list[Any]:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    styles = _styles()
    urgent = [f for f in report.flags if f.level == "urgent"]
    lines = [f"<b>Screen now:</b> {text(report.screen_verdict)}",
             f"<b>Flags:</b> {len(urgent)} urgent, "
             f"{sum(f.level == 'attention' for f in report.flags)} needing attention, "
             f"{sum(f.level == 'info' for f in report.flags)} for information"]
    adherence = report.adherence
    if adherence.percent is not None:
        lines.append(f"<b>Doses taken:</b> {adherence.taken} of {adherence.recorded} recorded "
                     f"days ({adherence.percent:.0f} %)")
    ok = [m for m in report.measures if m.status == "ok"]
    if ok:
        lines.append("<b>Measures:</b> " + "; ".join(
            f"{text(m.measure)} {_signed(m.estimate)} (interval {_interval(m)})" for m in ok))
    return [Paragraph(line, styles["body"]) for line in lines]


def _section(title: str, content: Sequence[Any], chart: Picture | None, caption: str,
             width: float) -> list[Any]:
    from reportlab.platypus import KeepTogether, Paragraph, Spacer  # type: ignore[import-untyped, unused-ignore]

    styles = _styles()
    flowables: list[Any] = [Paragraph(text(title), styles["h2"]), *content]
    if chart is None:
        return flowables
    # Heading, chart and caption move together; the table above may split on its own.
    figure = KeepTogether([Spacer(1, 4), _image(chart, width),
                           Paragraph(text(caption), styles["small"])])
    return [*flowables, figure]


def _image(picture: Picture, width: float) -> Any:
    from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped, unused-ignore]
    from reportlab.platypus import Flowable  # type: ignore[import-untyped, unused-ignore]

    class Chart(Flowable):  # type: ignore[misc]
        """A chart at the frame's width; never split (a Flowable is placed whole)."""

        def __init__(self) -> None:
            super().__init__()
            pixels_wide, pixels_high = picture.size
            self.width, self.height = width, width * pixels_high / pixels_wide

        def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
            return self.width, self.height

        def draw(self) -> None:
            self.canv.drawImage(ImageReader(picture), 0, 0, self.width, self.height)

    return Chart()


def _table(rows: list[list[Any]], widths: Sequence[float]) -> Any:
    from reportlab.lib import colors  # type: ignore[import-untyped, unused-ignore]
    from reportlab.platypus import Paragraph, Table, TableStyle  # type: ignore[import-untyped, unused-ignore]

    styles = _styles()
    cells = [[Paragraph(text(c), styles["head"]) for c in rows[0]]]
    cells += [[c if not isinstance(c, str) else Paragraph(text(c), styles["cell"])
               for c in row] for row in rows[1:]]
    table = Table(cells, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#1f3b57")),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#d0d5da")),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    return table


def _fractions(width: float, *parts: float) -> list[float]:
    return [width * p / sum(parts) for p in parts]


def _steps_table(report: VisitReport, width: float) -> Any:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    if not report.steps:
        return Paragraph("No titration plan is recorded.", _styles()["body"])
    rows: list[list[Any]] = [["step", "from", "to", "dose", "time"]]
    rows += [[str(i), str(s.start), str(s.end) if s.end else "ongoing", f"{s.dose_mg:g} mg",
              s.time or ""] for i, s in enumerate(report.steps, 1)]
    return _table(rows, _fractions(width, 1, 2, 2, 2, 2))


def _measures_table(report: VisitReport, width: float) -> Any:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    if not report.measures:
        note = report.measures_note or "No ratings are recorded."
        return Paragraph(text(note), _styles()["body"])
    coverage = next((m.coverage for m in report.measures if m.coverage), None)
    level = f"{coverage * 100:.0f} % interval" if coverage else "interval"
    rows: list[list[Any]] = [["measure", "better", "baseline mean", "mean after onset",
                              "change", level, "MID", "chance of a MID gain",
                              "days before / after"]]
    for m in report.measures:
        rows.append([m.measure, _better(m.direction), _number(m.baseline_mean),
                     _number(m.treatment_mean), _signed(m.estimate), _interval(m),
                     _mid(m), _chance(m.p_mid), f"{m.n_baseline} / {m.n_treatment}"])
    return _table(rows, _fractions(width, 1.8, 1.2, 1.4, 1.5, 1.2, 2.2, 1.9, 1.6, 1.6))


def _measure_summaries(report: VisitReport) -> list[Any]:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    return [Paragraph(text(m.summary), _styles()["small"]) for m in report.measures]


def _side_effects_table(report: VisitReport, width: float) -> Any:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    if not report.side_effects:
        return Paragraph("No side effects were recorded.", _styles()["body"])
    rows: list[list[Any]] = [["side effect", "recorded", "days", "worst", "now",
                              "expected onset", "expected duration"]]
    rows += [[r.name + (f" ({r.known_as})" if r.known_as and r.known_as.casefold()
                        != r.name.casefold() else ""),
              f"{r.first} to {r.last}", str(r.days), _severity(r.worst),
              "yes" if r.ongoing else "no", r.expected_onset, r.expected_duration]
             for r in report.side_effects]
    return _table(rows, _fractions(width, 2.4, 2.4, 0.9, 1.5, 0.8, 3, 3))


def _adherence_text(report: VisitReport) -> Any:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    a = report.adherence
    if a.percent is None:
        line = "No doses are recorded as taken or missed since LDN started."
    else:
        line = (f"Dose recorded as taken on {a.taken} of {a.recorded} days with a record "
                f"({a.percent:.0f} %); longest run of missed days in a row: "
                f"{a.longest_missed_run}. Days without a check-in are not counted.")
    return Paragraph(text(line), _styles()["body"])


def _flags_and_events(report: VisitReport, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    styles = _styles()
    story: list[Any] = [Paragraph("Flags and events", styles["h2"])]
    if report.flags:
        rows: list[list[Any]] = [["level", "date", "what"]]
        rows += [[LEVEL_LABELS.get(f.level, f.level), str(f.day), f.reason]
                 for f in report.flags]
        story.append(_table(rows, _fractions(width, 1.2, 1.3, 9)))
    else:
        story.append(Paragraph("No monitoring flags today.", styles["body"]))
    if report.events:
        rows = [["when", "event", "details"]]
        rows += [[f"{e.at:%Y-%m-%d %H:%M}", e.kind, e.text] for e in report.events]
        story.append(_table(rows, _fractions(width, 2, 1.3, 8.2)))
    else:
        story.append(Paragraph("No procedures, surgery hold or opioid exposure recorded.",
                               styles["body"]))
    return story


def _screen(report: VisitReport, width: float) -> list[Any]:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    styles = _styles()
    story: list[Any] = [Paragraph("Safety screen of the record now", styles["h2"]),
                        Paragraph(f"<b>Verdict:</b> {text(report.screen_verdict)}",
                                  styles["body"])]
    if report.screen_findings:
        rows: list[list[Any]] = [["level", "finding", "recorded as"]]
        rows += [[f.level, f.message, f.trigger] for f in report.screen_findings]
        story.append(_table(rows, _fractions(width, 1.5, 8, 3)))
    return story


def _notes(report: VisitReport) -> list[Any]:
    from reportlab.platypus import Paragraph  # type: ignore[import-untyped, unused-ignore]

    if not report.notes:
        return []
    styles = _styles()
    return [Paragraph("Recent diary notes (patient's words)", styles["h2"]),
            *(Paragraph(f"{n.day}: {text(n.text)}", styles["body"]) for n in report.notes)]


# --------------------------------------------------------------------------- numbers


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}".replace("-", "−")


def _interval(m: MeasureRow) -> str:
    if m.low is None or m.high is None or m.coverage is None:
        return "insufficient data"
    return f"{m.low:.1f} to {m.high:.1f}".replace("-", "−")


def _mid(m: MeasureRow) -> str:
    if m.mid_points is None:
        return "–"
    return f"{m.mid_points:g}" + (" (borrowed)" if m.mid_borrowed else "")


def _chance(p: float | None) -> str:
    return "–" if p is None else chance_percent(p)


def _better(direction: str | None) -> str:
    return {"lower-is-better": "lower", "higher-is-better": "higher"}.get(direction or "", "–")


def _severity(value: int) -> str:
    return {1: "mild", 2: "moderate", 3: "severe"}.get(value, str(value))
