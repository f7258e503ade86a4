"""Search across conditions, medicines and claims.

A medicine is read with the safety screen's own recognition (brands, combinations,
misspellings) and screened on its own, so "is X an opioid? does it matter for LDN?" gets the
answer the screen would give, with the screen's sources. "Now" is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from difflib import get_close_matches

from lowdose.core.medicines import AMBIGUOUS, MATCHED, Recognition
from lowdose.core.screening import Medication, Profile, ScreeningResult, screen
from lowdose.errors import InputError
from lowdose.knowledge.evidence import (
    ConditionEvidence,
    Evidence,
    evidence_for,
    mentions,
    normalise,
)
from lowdose.knowledge.guide import Guide
from lowdose.knowledge.screening import ScreeningKnowledge
from lowdose.learn.evidence import ClaimRow, ConditionSummary, claim_row, summary_of
from lowdose.learn.facts import Fact

MAX_QUERY = 200
UNRECOGNISED = "unrecognised-medicine"
# Abbreviations people type as the whole query, too common as words ("me", "fm") to be
# synonyms that match inside free text (evidence_for also reads a patient's conditions).
WHOLE_QUERY = {"me": "me-cfs", "m e": "me-cfs", "fm": "fibromyalgia", "m s": "multiple-sclerosis"}
# How close a misspelt condition name must be to a known one ("chrons" → "crohns"): close
# enough that misspelt medicine names ("percocat") match none.
CLOSE_NAME = 0.8


@dataclass(frozen=True)
class FindingRow:
    level: str  # the screen's level: contraindicated, defer, specialist, caution, info
    message: Fact


@dataclass(frozen=True)
class MedicineAnswer:
    name: str  # what the entry was recognised as, e.g. "hydrocodone (Norco)"
    opioid: str  # yes, no or blocker (of the most significant reading)
    what: tuple[Fact, ...]  # "hydrocodone (Norco) is an opioid."
    verdict: str  # the screen's verdict for this medicine alone
    findings: tuple[FindingRow, ...]


@dataclass(frozen=True)
class SearchResults:
    query: str
    conditions: tuple[ConditionSummary, ...]
    medicines: tuple[MedicineAnswer, ...]
    suggestions: tuple[str, ...]  # names a misspelt medicine may be
    claims: tuple[ClaimRow, ...]
    # Nothing found: what the screen says about a name it cannot recognise.
    unrecognised: Fact | None = None

    @property
    def empty(self) -> bool:
        return not (self.conditions or self.medicines or self.suggestions or self.claims)


def search(query: str, *, as_of: datetime, evidence: Evidence, guide: Guide,
           screening: ScreeningKnowledge) -> SearchResults:
    text = " ".join(query.split())
    if len(text) > MAX_QUERY:
        raise InputError("q", f"must be at most {MAX_QUERY} characters")
    if not normalise(text):
        return SearchResults(text, (), (), (), ())
    matched = _conditions(text, evidence)
    claims = tuple(claim_row(c) for c in evidence.claims
                   if _words_in(text, f"{c.claim} {c.finding}"))
    profile = Profile(as_of=as_of, medications=(Medication(text=text),))
    result = screen(profile, screening)
    medicines, suggestions = _medicines(result, guide, exact_only=bool(matched or claims))
    # "MS Contin" is morphine: a condition named only by words of the medicine's name is not
    # what the reader asked about.
    conditions = tuple(summary_of(c) for c in matched
                       if not (medicines and _named_by_medicine(text, c, medicines)))
    if not (conditions or claims or medicines or suggestions):
        conditions = tuple(summary_of(c) for c in _misspelt(text, evidence))
    found = SearchResults(text, conditions, medicines, suggestions, claims)
    if not found.empty:
        return found
    unknown = [f for f in result.findings if f.code == UNRECOGNISED]
    return replace(found, unrecognised=Fact(unknown[0].message, unknown[0].sources)
                   if unknown else None)


def condition_for(text: str, evidence: Evidence) -> ConditionEvidence | None:
    """The condition a reader's query names best, as the search box finds it (whole-query
    abbreviations such as "ME", synonyms, then the start of a name), or None."""
    found = _conditions(" ".join(text.split()), evidence) if normalise(text) else ()
    return found[0] if found else None


def _conditions(text: str, evidence: Evidence) -> tuple[ConditionEvidence, ...]:
    wanted = normalise(text)
    alias = evidence.condition(WHOLE_QUERY.get(wanted, ""))
    best = alias or evidence_for(text, evidence)
    found = [c for c in evidence.conditions if _partly_named(wanted, c)]
    ordered = ([best] if best else []) + [c for c in found if c is not best]
    return tuple(ordered)


def _misspelt(text: str, evidence: Evidence) -> tuple[ConditionEvidence, ...]:
    """Conditions whose name or synonym is spelt almost like the query ("fibromialgia")."""
    owners = {normalise(n): c for c in evidence.conditions for n in (c.name, *c.synonyms)
              if len(normalise(n)) >= 4}
    close = get_close_matches(normalise(text), list(owners), n=3, cutoff=CLOSE_NAME)
    return tuple(dict.fromkeys(owners[name] for name in close))


def _partly_named(wanted: str, condition: ConditionEvidence) -> bool:
    # Partial names too ("fibro", "crohn"), so the list narrows while people type.
    return len(wanted) >= 3 and any(
        normalise(name).startswith(wanted) or f" {wanted}" in f" {normalise(name)}"
        for name in (condition.name, *condition.synonyms))


def _named_by_medicine(text: str, condition: ConditionEvidence,
                       medicines: tuple[MedicineAnswer, ...]) -> bool:
    """Whether every name of the condition found in the query is part of a recognised
    medicine's name (the "MS" of "MS Contin")."""
    names = [n for n in (condition.name, *condition.synonyms) if mentions(text, n)]
    return bool(names) and all(mentions(m.name, n) for n in names for m in medicines)


def _words_in(query: str, text: str) -> bool:
    """Whether every word of the query (3 letters or more) starts a word of the text."""
    words = [w for w in normalise(query).split() if len(w) >= 3]
    haystack = f" {normalise(text)}"
    return bool(words) and all(f" {w}" in haystack for w in words)


def _medicines(result: ScreeningResult, guide: Guide,
               exact_only: bool) -> tuple[tuple[MedicineAnswer, ...], tuple[str, ...]]:
    recognition = result.medications[0]
    if recognition.status == AMBIGUOUS and not exact_only:
        return (), tuple(dict.fromkeys(c.name for c in recognition.candidates))
    # A condition or claim found by name outranks a medicine guessed from a misspelling.
    if recognition.status != MATCHED or (exact_only and recognition.method == "fuzzy"):
        return (), ()
    findings = tuple(FindingRow(f.level, Fact(f.message, f.sources)) for f in result.findings)
    if not findings:
        nothing = guide.nothing_raised.format(name=recognition.label())
        findings = (FindingRow("ok", Fact(nothing, _sources(recognition))),)
    answer = MedicineAnswer(recognition.label(), _opioid(recognition, guide),
                            _what(recognition, guide), result.verdict, findings)
    return (answer,), ()


def _sources(recognition: Recognition) -> tuple[str, ...]:
    return recognition.sources or tuple(
        dict.fromkeys(s for m in recognition.matches for s in m.sources))


def _what(recognition: Recognition, guide: Guide) -> tuple[Fact, ...]:
    sources = _sources(recognition)
    return tuple(Fact(f"{reading.label()} is {guide.medicine_classes[reading.cls].text}.",
                      sources) for reading in recognition.readings)


def _opioid(recognition: Recognition, guide: Guide) -> str:
    cls = recognition.cls
    return guide.medicine_classes[cls].opioid if cls else "no"
