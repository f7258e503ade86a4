"""The printable handout "LDN: what the evidence says" for one condition (reportlab).

Built from the same page models as /learn: the condition's page, the safety page and the
off-label statement of the "what LDN is" page. Every fact is followed by its numbered
citations, and the numbered sources close the handout, so the paper is as traceable as the
screen.
"""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from lowdose.knowledge.sources import Source
from lowdose.learn.evidence import ConditionPage
from lowdose.learn.facts import Fact, cited_ids
from lowdose.learn.pages import AboutPage, SafetyPage

TITLE = "LDN: what the evidence says"
REMINDER = ("lowdose supports decisions; it does not make them. This handout is for a "
            "conversation with your clinician and does not recommend treatment.")


@dataclass(frozen=True)
class Handout:
    """What the handout prints, in order; `sources` are every id its facts cite."""

    condition: ConditionPage
    off_label: Fact
    safety: SafetyPage
    sources: tuple[Source, ...]


def handout_for(condition: ConditionPage, about: AboutPage, safety: SafetyPage,
                sources: dict[str, Source]) -> Handout:
    off_label = about.intro[1]
    ids = cited_ids((condition, off_label, _safety_facts(safety)))
    return Handout(condition, off_label, safety, tuple(sources[i] for i in ids))


def _safety_facts(safety: SafetyPage) -> tuple[object, ...]:
    """The parts of the safety page the handout prints (and so cites)."""
    return (safety.contraindications, safety.opioid_free, safety.hold, safety.red_flags)


@cache
def _fonts() -> tuple[str, str]:
    """A Unicode font (µ, β, −, ≥ occur in the facts): matplotlib ships DejaVu Sans, found
    without importing matplotlib; Helvetica if it is missing."""
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

    spec = importlib.util.find_spec("matplotlib")
    roots = spec.submodule_search_locations if spec else None
    folder = Path(next(iter(roots))) / "mpl-data" / "fonts" / "ttf" if roots else None
    if folder is None or not (folder / "DejaVuSans.ttf").is_file():
        return "Helvetica", "Helvetica-Bold"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(folder / "DejaVuSans-Bold.ttf")))
    return "DejaVuSans", "DejaVuSans-Bold"


def render_pdf(handout: Handout) -> bytes:
    from reportlab.lib import colors  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.platypus import (  # type: ignore[import-untyped]
        ListFlowable,
        ListItem,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=10, leading=13.5, spaceAfter=4)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10.5, spaceAfter=2)
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=18, leading=22, spaceAfter=2)
    h2 = ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12, leading=15,
                        spaceBefore=8, spaceAfter=3)
    number = {s.id: i for i, s in enumerate(handout.sources, start=1)}

    def cited(fact: Fact, prefix: str = "") -> str:
        # As on screen: a statement without a source says so rather than standing bare.
        marks = "".join(f"[{number[s]}]" for s in fact.sources) or "(no source found)"
        return f"{prefix}{escape(fact.text)} <font size=7>{marks}</font>"

    def bullets(items: list[str]) -> ListFlowable:
        return ListFlowable([ListItem(Paragraph(i, body), leftIndent=10) for i in items],
                            bulletType="bullet", start="•", leftIndent=10)

    page, safety = handout.condition, handout.safety
    story: list[object] = [
        Paragraph(escape(TITLE), h1),
        Paragraph(escape(page.name), h2),
        Paragraph(f"Facts last reviewed {page.reviewed.isoformat()}. Every statement cites "
                  "its numbered source, listed at the end.", small),
        Paragraph("How strong is the evidence?", h2),
        Paragraph(cited(page.grade, "<b>Evidence grade:</b> "), body),
        Paragraph(escape(page.grade_definition), small),
    ]
    if page.grade_note:
        story.append(Paragraph(cited(page.grade_note), body))
    story += [Paragraph("What the studies found", h2), Paragraph(cited(page.summary), body)]
    if page.studies:
        cell = ParagraphStyle("cell", parent=small, spaceAfter=0)
        head = ParagraphStyle("head", parent=cell, fontName=bold)
        rows = [[Paragraph(t, head) for t in ("Study", "Design", "People", "Result", "Link")]]
        for s in page.studies:
            ids = "<br/>".join(escape(i.label) for i in s.identifiers)
            rows.append([Paragraph(escape(f"{s.label}, {s.journal}"), cell),
                         Paragraph(escape(s.design), cell),
                         Paragraph("—" if s.n is None else str(s.n), cell),
                         Paragraph(cited(s.result), cell), Paragraph(ids or "—", cell)])
        table = Table(rows, colWidths=[32 * mm, 25 * mm, 15 * mm, 66 * mm, 38 * mm],
                      repeatRows=1)
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ]))
        story += [Spacer(1, 3), table]
    story += [
        Paragraph("Safety in brief", h2),
        Paragraph(cited(handout.off_label), body),
        Paragraph("<b>LDN is ruled out with:</b>", body),
        bullets([cited(f) for f in safety.contraindications]),
        Paragraph(cited(safety.opioid_free), body),
        Paragraph(cited(safety.hold), body),
        Paragraph("<b>Get help at once with:</b>", body),
        bullets([cited(flag.action, f"<b>{escape(flag.name)}.</b> ")
                 for flag in safety.red_flags]),
        Spacer(1, 4),
        Paragraph(f"<b>{escape(REMINDER)}</b>", body),
        Paragraph("Sources", h2),
    ]
    story += [Paragraph(f"[{i}] {escape(s.citation)} {escape(s.link)}", small)
              for i, s in enumerate(handout.sources, start=1)]

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=f"{TITLE}: {page.name}",
                            author="lowdose", subject=TITLE, leftMargin=16 * mm,
                            rightMargin=16 * mm, topMargin=14 * mm, bottomMargin=14 * mm)
    doc.build(story)
    return out.getvalue()
