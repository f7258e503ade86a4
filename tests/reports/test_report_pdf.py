"""The visit report as a reader gets it: text extracted with pypdf, pages rendered to PNG with
pypdfium2. Content equals the analysis; no chart is split or separated from its heading and
caption; patient text prints as typed."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date, timedelta

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from pypdf import PdfReader

from lowdose.reports.model import Note, SideEffectRow, VisitReport
from lowdose.reports.pdf import CHART_CAPTIONS, render_pdf
from lowdose.services import reports
from persistence.conftest import Cast

from .conftest import MARKUP_NOTE, build_history

HEADINGS = ("Dose steps", "Measures against baseline",
            "Side effects against their expected course", "Adherence", "Flags and events",
            "Safety screen of the record now", "What these numbers can and cannot say")
MARGIN_PT = 14 * 72 / 25.4 - 1  # the template's smallest margin (14 mm), less rounding


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Layout does not depend on the database: these tests run on SQLite only."""
    return str(request.param)


@pytest.fixture
def report(cast: Cast) -> VisitReport:
    history = build_history(cast)
    return reports.visit_report_model(cast.db, cast.ctx("clinician"), history.patient_id)


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------------ content


def test_the_pdf_shows_the_analysis_numbers(report: VisitReport) -> None:
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF-")
    text = flat(" ".join(page_texts(pdf)))
    assert "Visit report: Alice" in text and "SYNTHETIC RECORD" in text
    for measure in report.measures:
        assert measure.baseline_mean is not None and measure.low is not None
        better = "lower" if measure.direction == "lower-is-better" else "higher"
        row = (f"{measure.measure} {better} {measure.baseline_mean:.1f} "
               f"{measure.treatment_mean:.1f} {measure.estimate:+.1f}".replace("-", "−"))
        assert row in text
        assert flat(measure.summary) in text
    adherence = report.adherence
    assert f"{adherence.taken} of {adherence.recorded} recorded days" in text
    for step in report.steps:
        assert f"{step.start} " in text and f"{step.dose_mg:g} mg" in text
    assert f"Verdict: {report.screen_verdict}" in text
    assert "Knee arthroscopy" in text and "hold" in text
    assert "entered by the patient" in text and "supports decisions" in text


def test_every_heading_and_chart_is_there(report: VisitReport) -> None:
    text = flat(" ".join(page_texts(render_pdf(report))))
    for heading in HEADINGS:
        assert heading in text
    for caption in CHART_CAPTIONS:
        assert flat(caption) in text


def test_patient_text_is_printed_as_typed_never_as_markup(report: VisitReport) -> None:
    hostile_name = '<para><font color="red">Mallory</font></para> & <br/>'
    named = replace(report, patient_name=hostile_name)
    pdf = render_pdf(named)
    text = flat(" ".join(page_texts(pdf)))
    assert flat(MARKUP_NOTE) in text
    assert flat(hostile_name) in text
    for page in PdfReader(io.BytesIO(pdf)).pages:
        assert "/Annots" not in page  # the note's <a href> made no link
    # Every character of the note is set in the body size: <font size=40> did nothing.
    document = pdfium.PdfDocument(pdf)
    heights = []
    for index in range(len(document)):
        textpage = document[index].get_textpage()
        found = textpage.search("BIG").get_next()
        if found:
            _, bottom, _, top = textpage.get_charbox(found[0])
            heights.append(top - bottom)
    assert heights and all(h < 12 for h in heights)


# ------------------------------------------------------------------------------- layout


def layout_problems(pdf: bytes) -> list[str]:
    """Charts inside the page margins, each on the page of its caption and heading, no
    heading last on a page, and every chart visibly drawn when the page is rendered."""
    problems = []
    document = pdfium.PdfDocument(pdf)
    texts = page_texts(pdf)
    charts = 0
    for index in range(len(document)):
        page = document[index]
        width, height = page.get_size()
        textpage = page.get_textpage()
        images = [obj.get_bounds() for obj in
                  page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_IMAGE])]
        charts += len(images)
        for left, bottom, right, top in images:
            if left < MARGIN_PT or bottom < MARGIN_PT or right > width - MARGIN_PT or (
                    top > height - MARGIN_PT):
                problems.append(f"page {index + 1}: a chart reaches outside the margins")
        captions = [n for n in range(1, 5) if f"Figure {n}." in texts[index]]
        if len(captions) != len(images):
            problems.append(f"page {index + 1}: {len(images)} charts, captions {captions}")
        for n in captions:
            found = textpage.search(f"Figure {n}.").get_next()
            assert found is not None
            caption_top = textpage.get_charbox(found[0])[3]
            if not any(0 <= bottom - caption_top < 20 for _, bottom, _, _ in images):
                problems.append(f"page {index + 1}: figure {n} is not right above its caption")
        lines = [line for line in texts[index].splitlines() if line.strip()
                 and not line.startswith("lowdose visit report") and "page " not in line]
        if index < len(document) - 1 and lines and lines[-1].strip() in HEADINGS:
            problems.append(f"page {index + 1}: heading {lines[-1]!r} left alone at the foot")
        problems += _blank_charts(page, images, index)
    if charts != 4:
        problems.append(f"{charts} charts in the document, expected 4")
    return problems


def _blank_charts(page: pdfium.PdfPage, images: list[tuple[float, float, float, float]],
                  index: int) -> list[str]:
    scale = 1.0
    picture = page.render(scale=scale).to_pil().convert("L")
    height = page.get_size()[1]
    problems = []
    for left, bottom, right, top in images:
        crop = picture.crop((int(left), int(height - top), int(right), int(height - bottom)))
        dark = sum(1 for value in crop.tobytes() if value < 128)
        if dark < 0.002 * crop.width * crop.height:
            problems.append(f"page {index + 1}: a chart renders blank")
    return problems


def _with_side_effects(report: VisitReport, count: int, note_words: int) -> VisitReport:
    start = report.first_day or date(2025, 1, 1)
    rows = tuple(SideEffectRow(
        name=f"effect number {n}", known_as=None, first=start + timedelta(days=n),
        last=start + timedelta(days=n + 3), days=4, worst=1 + n % 3, ongoing=False,
        expected_onset="not in lowdose's side-effect list", expected_duration="not reported",
        sources=(), days_by_severity=tuple((start + timedelta(days=n + d), 1 + n % 3)
                                           for d in range(4))) for n in range(count))
    notes = tuple(Note(start + timedelta(days=n), " ".join(["word"] * note_words))
                  for n in range(5))
    return replace(report, side_effects=report.side_effects + rows, notes=notes)


@pytest.mark.parametrize(("extra_effects", "note_words"), [
    (0, 0), (2, 10), (5, 40), (9, 0), (14, 60), (22, 5)])
def test_pages_break_cleanly_whatever_the_length(report: VisitReport, extra_effects: int,
                                                 note_words: int) -> None:
    # Longer side-effect tables push the charts after them towards (and over) page breaks.
    pdf = render_pdf(_with_side_effects(report, extra_effects, note_words))
    assert layout_problems(pdf) == []


def test_every_page_renders_to_png(report: VisitReport) -> None:
    document = pdfium.PdfDocument(render_pdf(report))
    assert 2 <= len(document) <= 5  # short enough to read in two minutes
    for index in range(len(document)):
        out = io.BytesIO()
        document[index].render(scale=1.5).to_pil().save(out, format="PNG")
        assert out.getvalue().startswith(b"\x89PNG")
        assert re.search(rb"IDAT", out.getvalue())


def test_the_layout_check_catches_a_chart_torn_from_its_caption(
        report: VisitReport, monkeypatch: pytest.MonkeyPatch) -> None:
    from reportlab.platypus import PageBreak, Paragraph

    import lowdose.reports.pdf as layout

    def torn(title: str, content: list[object], chart: object, caption: str,
             width: float) -> list[object]:
        # What a layout without KeepTogether can do: chart, then the caption on a new page.
        styles = layout._styles()
        body = [Paragraph(title, styles["h2"]), *content]
        if chart is None:
            return body
        return [*body, layout._image(chart, width), PageBreak(),
                Paragraph(caption, styles["small"])]

    monkeypatch.setattr(layout, "_section", torn)
    problems = layout_problems(render_pdf(report))
    assert any("not right above its caption" in p or "captions" in p for p in problems)
