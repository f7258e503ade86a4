"""Page models for evidence by condition and for the claims checked, from evidence.toml.

A condition's grade, summary and studies are the knowledge base's own (the same entry that
`lowdose knowledge evidence CONDITION --json` prints); a "no studies found" grade and a
"no data" verdict cite nothing and say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from lowdose.knowledge.evidence import Claim, ConditionEvidence, Evidence, Study
from lowdose.knowledge.guide import Guide
from lowdose.knowledge.sources import Sources
from lowdose.learn.facts import Fact
from lowdose.learn.pages import Page

# Plain names for the study designs of evidence.DESIGNS.
DESIGN_LABELS = {
    "rct-parallel": "randomised trial",
    "rct-crossover": "randomised crossover trial",
    "single-blind-crossover": "single-blind crossover trial",
    "open-label": "open-label study",
    "pre-post": "before-and-after study",
    "retrospective": "chart review",
    "register": "prescription-register study",
    "case-series": "case series",
    "case-report": "case report",
    "systematic-review": "systematic review",
    "narrative-review": "review",
    "book-chapter": "book chapter",
    "trial-registration": "registered trial (no results yet)",
}
VERDICT_LABELS = {"supported": "Supported", "mixed": "Mixed",
                  "not-supported": "Not supported", "no-data": "No data"}
NONE_FOUND, NO_DATA = "none-found", "no-data"


@dataclass(frozen=True)
class Identifier:
    kind: str  # PMID, DOI, NCT, PMCID, or URL (the source's web copy when it has no id)
    value: str
    url: str

    @property
    def label(self) -> str:
        """"PMID 19453963", "DOI 10.1002/…"; NCT and PMC ids already say what they are, and
        a web copy is named by its address."""
        return self.value if self.kind in ("NCT", "PMCID", "URL") else f"{self.kind} {self.value}"


@dataclass(frozen=True)
class StudyRow:
    label: str  # "Younger 2009"
    journal: str
    design: str
    n: int | None
    result: Fact
    identifiers: tuple[Identifier, ...]


@dataclass(frozen=True)
class ConditionSummary:
    id: str
    name: str
    grade: Fact  # the grade's label, with the condition's sources and `grade` set


@dataclass(frozen=True)
class ConditionPage(Page):
    id: str
    name: str
    grade: Fact
    grade_definition: str  # lowdose's grading key, not a fact about LDN
    grade_note: Fact | None
    summary: Fact
    studies: tuple[StudyRow, ...]


@dataclass(frozen=True)
class ConditionsPage(Page):
    conditions: tuple[ConditionSummary, ...]
    grades: tuple[tuple[str, str, str], ...]  # the grading key: id, label, definition
    off_label: Fact


@dataclass(frozen=True)
class ClaimRow:
    id: str
    claim: str  # the claim as people make it: quoted, not a fact
    verdict_id: str  # supported, mixed, not-supported or no-data
    verdict: Fact
    finding: Fact


@dataclass(frozen=True)
class ClaimsPage(Page):
    claims: tuple[ClaimRow, ...]

    def by_verdict(self) -> tuple[tuple[str, tuple[ClaimRow, ...]], ...]:
        """(verdict label, its claims) in the order supported, mixed, not supported, no data;
        verdicts without claims are left out."""
        groups = ((label, tuple(c for c in self.claims if c.verdict_id == verdict))
                  for verdict, label in VERDICT_LABELS.items())
        return tuple((label, rows) for label, rows in groups if rows)


def _about_condition(text: str, condition: ConditionEvidence, grade: str | None = None) -> Fact:
    if condition.grade.id == NONE_FOUND:
        return Fact.not_found(text) if grade is None else Fact(text, (), "not-found", grade)
    return Fact(text, condition.sources, grade=grade)


def grade_fact(condition: ConditionEvidence) -> Fact:
    return _about_condition(condition.grade.label, condition, condition.grade.id)


def summary_of(condition: ConditionEvidence) -> ConditionSummary:
    return ConditionSummary(condition.id, condition.name, grade_fact(condition))


def _identifiers(study: Study, sources: Sources | None) -> tuple[Identifier, ...]:
    found = []
    if study.pmid:
        found.append(Identifier("PMID", study.pmid,
                                f"https://pubmed.ncbi.nlm.nih.gov/{study.pmid}/"))
    if study.doi:
        found.append(Identifier("DOI", study.doi, f"https://doi.org/{study.doi}"))
    if study.nct:
        found.append(Identifier("NCT", study.nct, f"https://clinicaltrials.gov/study/{study.nct}"))
    if study.pmcid and not found:
        found.append(Identifier("PMCID", study.pmcid,
                                f"https://www.ncbi.nlm.nih.gov/pmc/articles/{study.pmcid}/"))
    own = sources.get(study.sources[0]) if sources is not None else None
    if not found and own is not None and own.url:
        # No PMID, DOI or registry number (e.g. an abstract seen on a web page): the reader
        # still gets the copy lowdose's source entry points to.
        found.append(Identifier("URL", own.url, own.url))
    return tuple(found)


def _study(study: Study, sources: Sources | None) -> StudyRow:
    return StudyRow(f"{study.first_author} {study.year}", study.journal,
                    DESIGN_LABELS[study.design], study.n, Fact(study.result, study.sources),
                    _identifiers(study, sources))


def condition_page(condition: ConditionEvidence, guide: Guide,
                   sources: Sources | None = None) -> ConditionPage:
    """The condition's page; with `sources`, a study without an identifier links to the web
    copy its source entry names."""
    note = condition.grade_note
    return ConditionPage(
        f"conditions/{condition.id}", f"LDN for {condition.name}: what the evidence says",
        guide.last_reviewed(("evidence.toml", "sources.toml")),
        id=condition.id, name=condition.name, grade=grade_fact(condition),
        grade_definition=condition.grade.definition,
        grade_note=None if note is None else _about_condition(note, condition),
        summary=_about_condition(condition.summary, condition),
        studies=tuple(_study(s, sources) for s in condition.studies),
    )


def conditions_page(evidence: Evidence, guide: Guide) -> ConditionsPage:
    return ConditionsPage(
        "conditions", "Evidence by condition",
        guide.last_reviewed(("evidence.toml",)),
        tuple(summary_of(c) for c in evidence.conditions),
        tuple((g.id, g.label, g.definition) for g in evidence.grades),
        off_label_fact(guide),
    )


def off_label_fact(guide: Guide) -> Fact:
    """"LDN is off-label", with its sources: a medical statement wherever it is shown."""
    return Fact.of(guide.one("about.off_label"))


def claim_row(claim: Claim) -> ClaimRow:
    label = VERDICT_LABELS[claim.verdict]
    if claim.verdict == NO_DATA:
        return ClaimRow(claim.id, claim.claim, claim.verdict, Fact.not_found(label),
                        Fact.not_found(claim.finding))
    return ClaimRow(claim.id, claim.claim, claim.verdict, Fact(label, claim.sources),
                    Fact(claim.finding, claim.sources))


def claims_page(evidence: Evidence, guide: Guide) -> ClaimsPage:
    return ClaimsPage("claims", "Claims about LDN, checked against the sources",
                      guide.last_reviewed(("evidence.toml",)),
                      tuple(claim_row(c) for c in evidence.claims))
