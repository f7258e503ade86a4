"""Evidence for LDN by condition, claims checked, and the expected course of side effects.

Facts live in `knowledge/data/evidence.toml` and `knowledge/data/side_effects.toml`. The loaders
check what a reader relies on: grades, verdicts and study designs come from fixed vocabularies,
every cited source id exists, and no side-effect text shows a percentage that its cited sources
do not contain (the widely quoted frequencies are untraceable and must not pass as facts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from lowdose.errors import InputError
from lowdose.knowledge.sources import Source, Sources, load_sources, read_toml

# The §5 grading key, strongest evidence first. `rct-active-control` is the grade §5 gives
# painful diabetic neuropathy (a blinded trial against another drug, no placebo result).
GRADES = (
    "rct-positive", "rct-mixed", "rct-active-control", "rct-negative",
    "open-label-only", "observational-only", "observational-null", "case-reports-only",
    "none-found",
)
VERDICTS = ("supported", "mixed", "not-supported", "no-data")
DESIGNS = frozenset({
    "rct-parallel", "rct-crossover", "single-blind-crossover", "open-label", "pre-post",
    "retrospective", "register", "case-series", "case-report", "systematic-review",
    "narrative-review", "book-chapter", "trial-registration",
})
NOT_REPORTED = "not reported"
# "5–6 %", "30%", "12.5 per cent": a number (or range) followed by a percent sign or word.
PERCENTAGE = re.compile(r"\d+(?:[.,]\d+)?(?:\s*[–-]\s*\d+(?:[.,]\d+)?)?\s*(?:%|per\s?cent)")


# ---------------------------------------------------------------- text matching

def normalise(text: str) -> str:
    """Lower-case words only: "Crohn’s  Disease (ileal)" → "crohns disease ileal"."""
    folded = re.sub(r"['’`]", "", text.casefold())
    return " ".join(re.sub(r"[^0-9a-z]+", " ", folded).split())


def mentions(text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in `text` as whole words, after normalising both."""
    wanted = normalise(phrase)
    return bool(wanted) and f" {wanted} " in f" {normalise(text)} "


# In free text a red flag is often denied ("no dark urine", "I don't have hives"): a phrase
# counts only if none of these words comes shortly before it in the same clause.
NEGATORS = frozenset({"no", "not", "never", "without", "denies", "deny", "dont", "didnt",
                      "doesnt", "isnt", "wasnt", "arent", "werent", "havent", "hasnt", "hadnt",
                      "nor", "none"})
NEGATION_REACH = 3  # words before the phrase
_CLAUSES = re.compile(r"[.,;:!?()\n]|\bbut\b|\bhowever\b|\balthough\b")


@lru_cache(maxsize=4096)
def _words(phrase: str) -> tuple[str, ...]:
    return tuple(normalise(phrase).split())


# Patients pluralise and misspell what they write ("rashes", "Jaundise", "withdrawl"). Phrases
# that must not be missed (red flags) are matched word by word against a vocabulary: a written
# word also counts as a phrase word that is its singular or plural, or, for phrase words of
# FUZZY_MIN letters or more, one typing slip away (a letter missing, extra or wrong, or two
# neighbours swapped) after the same first letter, which people rarely get wrong. Short words
# must match exactly: "rash", "dark" and "pain" have too many one-letter neighbours.
FUZZY_MIN = 7


def _deletions(word: str) -> list[tuple[int, str, str]]:
    """Each way to leave one letter out (never the first): (where, which, what is left)."""
    return [(i, word[i], word[:i] + word[i + 1:]) for i in range(1, len(word))]


def _number_forms(word: str) -> set[str]:
    """The other grammatical number of a word: "rash" ↔ "rashes", "lips" ↔ "lip"."""
    if len(word) < 3:
        return set()
    forms = {word + "s", word + "es"}
    if word.endswith("y"):
        forms.add(word[:-1] + "ies")
    if word.endswith("ies"):
        forms.add(word[:-3] + "y")
    if word.endswith("es"):
        forms.add(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
    return forms


class Vocabulary:
    """The words of a set of phrases, and which of them a written word can stand for."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.words = frozenset(w for p in phrases for w in _words(p))
        self._forms: dict[str, set[str]] = {}
        # a word less one letter → (the word, where, which letter)
        self._slips: dict[str, set[tuple[str, int, str]]] = {}
        for word in self.words:
            for form in _number_forms(word):
                self._forms.setdefault(form, set()).add(word)
            if len(word) >= FUZZY_MIN:
                for at, letter, slip in _deletions(word):
                    self._slips.setdefault(slip, set()).add((word, at, letter))

    def meanings(self, word: str) -> frozenset[str]:
        """`word` itself and every vocabulary word it may be a form or a misspelling of."""
        found = {word, *self._forms.get(word, ())}
        if len(word) >= FUZZY_MIN - 1:
            found.update(w for w, _, _ in self._slips.get(word, ()))  # a letter missing
            for at, letter, shorter in _deletions(word):
                if len(shorter) >= FUZZY_MIN and shorter in self.words:
                    found.add(shorter)  # a letter too many
                found.update(  # one letter wrong, or two neighbours swapped
                    w for w, there, other in self._slips.get(shorter, ())
                    if there == at or (abs(there - at) == 1 and other == letter))
        return frozenset(found)


@cache
def vocabulary(phrases: tuple[str, ...]) -> Vocabulary:
    return Vocabulary(phrases)


class FreeText:
    """A note split into clauses of normalised words once, to test many phrases against.
    With a vocabulary, each word also stands for the vocabulary words it is a form or a
    misspelling of."""

    def __init__(self, text: str, words: Vocabulary | None = None) -> None:
        self.clauses = tuple(tuple(normalise(c).split()) for c in _CLAUSES.split(text.casefold()))
        self.meanings = tuple(
            tuple(frozenset((w,)) if words is None else words.meanings(w) for w in clause)
            for clause in self.clauses)
        self.words = frozenset(m for clause in self.meanings for ms in clause for m in ms)

    def affirms(self, phrase: str) -> bool:
        """Whether the text mentions `phrase` as whole words without denying it."""
        return self._find(phrase, deny=True)

    def contains(self, phrase: str) -> bool:
        """Whether the text mentions `phrase` as whole words, denied or not."""
        return self._find(phrase, deny=False)

    def _find(self, phrase: str, *, deny: bool) -> bool:
        wanted = _words(phrase)
        n = len(wanted)
        if n == 0 or not self.words.issuperset(wanted):
            return False  # the usual case, found without sliding over the clauses
        return any(
            all(w in meant[i + k] for k, w in enumerate(wanted))
            and not (deny and NEGATORS & set(words[max(0, i - NEGATION_REACH):i]))
            for words, meant in zip(self.clauses, self.meanings, strict=True)
            for i in range(len(words) - n + 1))


def _best_phrase(text: str, phrases: Iterable[str]) -> int:
    """Length of the longest phrase found in the text (0 if none): longer is more specific."""
    return max((len(normalise(p)) for p in phrases if mentions(text, p)), default=0)


def _required_text(value: str, field: str) -> str:
    if not value.strip():
        raise InputError(field, "must not be empty")
    return value


# ---------------------------------------------------------------- types

@dataclass(frozen=True)
class Grade:
    id: str
    label: str
    definition: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label, "definition": self.definition}


@dataclass(frozen=True)
class Code:
    """A condition code; `verified` is False where interop-notes marks it VERIFY."""

    system: str
    code: str
    verified: bool
    note: str | None
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"system": self.system, "code": self.code,
                               "verified": self.verified, "sources": list(self.sources)}
        return out | ({"note": self.note} if self.note else {})


@dataclass(frozen=True)
class Study:
    """One study; its identifiers come from its own source entry (the first cited id)."""

    first_author: str
    year: int
    journal: str
    design: str
    n: int | None
    result: str
    sources: tuple[str, ...]
    pmid: str | None
    doi: str | None
    nct: str | None
    pmcid: str | None

    def to_dict(self) -> dict[str, Any]:
        ids = {k: v for k, v in (("pmid", self.pmid), ("doi", self.doi), ("nct", self.nct),
                                 ("pmcid", self.pmcid)) if v}
        return {"first_author": self.first_author, "year": self.year, "journal": self.journal,
                **ids, "design": self.design, "n": self.n, "result": self.result,
                "sources": list(self.sources)}


@dataclass(frozen=True)
class ConditionEvidence:
    id: str
    name: str
    synonyms: tuple[str, ...]
    grade: Grade
    grade_note: str | None
    summary: str
    codes: tuple[Code, ...]
    studies: tuple[Study, ...]
    sources: tuple[str, ...]

    def match(self, text: str) -> int:
        """How specifically `text` names this condition: 0 no match, higher is better."""
        if any(text.strip().casefold() == c.code.casefold() for c in self.codes):
            return 1_000  # an exact code beats any words
        return _best_phrase(text, (self.name, *self.synonyms))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "synonyms": list(self.synonyms),
            "codes": [c.to_dict() for c in self.codes],
            "grade": self.grade.id, "grade_label": self.grade.label,
            "grade_note": self.grade_note, "summary": self.summary,
            "studies": [s.to_dict() for s in self.studies], "sources": list(self.sources),
        }


@dataclass(frozen=True)
class Claim:
    id: str
    claim: str
    verdict: str
    finding: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "claim": self.claim, "verdict": self.verdict,
                "finding": self.finding, "sources": list(self.sources)}


@dataclass(frozen=True)
class Evidence:
    grades: tuple[Grade, ...]
    conditions: tuple[ConditionEvidence, ...]
    claims: tuple[Claim, ...]

    def condition(self, condition_id: str) -> ConditionEvidence | None:
        return next((c for c in self.conditions if c.id == condition_id), None)

    def claim(self, claim_id: str) -> Claim | None:
        return next((c for c in self.claims if c.id == claim_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"grades": [g.to_dict() for g in self.grades],
                "conditions": [c.to_dict() for c in self.conditions],
                "claims": [c.to_dict() for c in self.claims]}


@dataclass(frozen=True)
class SideEffect:
    id: str
    name: str
    synonyms: tuple[str, ...]
    onset: str
    duration: str
    reported: str
    when_persisting: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "synonyms": list(self.synonyms),
                "onset": self.onset, "duration": self.duration, "reported": self.reported,
                "when_persisting": self.when_persisting, "sources": list(self.sources)}


@dataclass(frozen=True)
class RedFlag:
    id: str
    name: str
    signs: tuple[str, ...]
    triggers: tuple[str, ...]
    action: str
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "signs": list(self.signs),
                "triggers": list(self.triggers), "action": self.action,
                "sources": list(self.sources)}


@dataclass(frozen=True)
class SideEffectCourse:
    side_effects: tuple[SideEffect, ...]
    red_flags: tuple[RedFlag, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"side_effects": [s.to_dict() for s in self.side_effects],
                "red_flags": [r.to_dict() for r in self.red_flags]}


# ---------------------------------------------------------------- table readers

class _Table:
    """Typed access to one parsed TOML table; errors name the dotted field."""

    def __init__(self, data: Any, field: str) -> None:
        if not isinstance(data, dict):
            raise InputError(field, "must be a table")
        self.data: dict[str, Any] = data
        self.field = field

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{self.field}.{key}", "must be a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.text(key)

    def integer(self, key: str) -> int:
        value = self.data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(f"{self.field}.{key}", "must be a whole number ≥ 0")
        return value

    def optional_integer(self, key: str) -> int | None:
        return None if self.data.get(key) is None else self.integer(key)

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if not isinstance(value, bool):
            raise InputError(f"{self.field}.{key}", "must be true or false")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InputError(f"{self.field}.{key}", "must be a list of non-empty strings")
        return tuple(value)

    def tables(self, key: str) -> list[_Table]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise InputError(f"{self.field}.{key}", "must be a list of tables")
        return [_Table(item, f"{self.field}.{key}.{i}") for i, item in enumerate(value)]

    def choice(self, key: str, allowed: Iterable[str]) -> str:
        value, options = self.text(key), tuple(allowed)
        if value not in options:
            raise InputError(f"{self.field}.{key}", f"must be one of {', '.join(options)}")
        return value

    def cited(self, sources: Sources, required: bool = True) -> tuple[str, ...]:
        ids = self.texts("sources")
        unknown = [i for i in ids if i not in sources]
        if unknown:
            raise InputError(f"{self.field}.sources", f"unknown source id {unknown[0]!r}")
        if required and not ids:
            raise InputError(f"{self.field}.sources", "must cite at least one source")
        return ids


_read = read_toml


def _unique(items: Iterable[Any], field: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise InputError(field, f"duplicate id {item.id!r}")
        seen.add(item.id)


# ---------------------------------------------------------------- evidence

def _grades(data: dict[str, Any]) -> tuple[Grade, ...]:
    table = _Table(data.get("grades"), "grades")
    if set(table.data) != set(GRADES):
        raise InputError("grades", f"must define exactly: {', '.join(GRADES)}")
    rows = {g: _Table(table.data[g], f"grades.{g}") for g in GRADES}
    return tuple(Grade(g, t.text("label"), t.text("definition")) for g, t in rows.items())


def _code(table: _Table, system: str, sources: Sources) -> Code:
    return Code(system, table.text("code"), table.flag("verified"),
                table.optional_text("note"), table.cited(sources))


def _study(table: _Table, sources: Sources) -> Study:
    cited = table.cited(sources)
    own = sources.by_id[cited[0]]  # cited() has checked that it exists
    return Study(
        first_author=table.text("first_author"), year=table.integer("year"),
        journal=table.text("journal"), design=table.choice("design", sorted(DESIGNS)),
        n=table.optional_integer("n"), result=table.text("result"), sources=cited,
        pmid=own.pmid, doi=own.doi, nct=own.nct, pmcid=own.pmcid,
    )


def _condition(table: _Table, grades: Mapping[str, Grade], sources: Sources) -> ConditionEvidence:
    grade = table.choice("grade", GRADES)
    codes = tuple(_code(_Table(table.data[s], f"{table.field}.{s}"), s, sources)
                  for s in ("snomed", "icd10") if s in table.data)
    return ConditionEvidence(
        id=table.text("id"), name=table.text("name"), synonyms=table.texts("synonyms"),
        grade=grades[grade], grade_note=table.optional_text("grade_note"),
        summary=table.text("summary"), codes=codes,
        studies=tuple(_study(t, sources) for t in table.tables("studies")),
        # "No studies found" has, by definition, nothing to cite.
        sources=table.cited(sources, required=grade != "none-found"),
    )


def _claim(table: _Table, sources: Sources) -> Claim:
    verdict = table.choice("verdict", VERDICTS)
    return Claim(table.text("id"), table.text("claim"), verdict, table.text("finding"),
                 table.cited(sources, required=verdict != "no-data"))


def parse_evidence(data: dict[str, Any], sources: Sources) -> Evidence:
    grades = _grades(data)
    by_id = {g.id: g for g in grades}
    root = _Table(data, "evidence")
    conditions = tuple(_condition(t, by_id, sources) for t in root.tables("conditions"))
    claims = tuple(_claim(t, sources) for t in root.tables("claims"))
    _unique(conditions, "conditions")
    _unique(claims, "claims")
    return Evidence(grades, conditions, claims)


@cache
def load_evidence() -> Evidence:
    return parse_evidence(_read("evidence.toml"), load_sources())


def evidence_for(condition_text: str, evidence: Evidence | None = None) -> ConditionEvidence | None:
    """The condition a free-text name (or SNOMED / ICD-10 code) refers to, or None.

    Matching is on whole words, case-insensitive; the most specific synonym wins, and a tie
    goes to the earlier entry (general entries such as chronic pain come last).
    """
    text = _required_text(condition_text, "condition")
    best, best_score = None, 0
    for condition in (evidence or load_evidence()).conditions:
        score = condition.match(text)
        if score > best_score:
            best, best_score = condition, score
    return best


# ---------------------------------------------------------------- side effects

def untraceable_percentages(texts: Iterable[str], cited: Iterable[Source]) -> tuple[str, ...]:
    """Percentages in `texts` that appear in no cited source's note (spacing ignored)."""
    notes = [re.sub(r"\s+", "", s.note) for s in cited]
    found = (m.group(0) for t in texts for m in PERCENTAGE.finditer(t))
    return tuple(p for p in found if not any(re.sub(r"\s+", "", p) in n for n in notes))


def _traceable(table: _Table, texts: Iterable[str], ids: tuple[str, ...],
               sources: Sources) -> None:
    cited = [s for s in (sources.get(i) for i in ids) if s is not None]
    bad = untraceable_percentages(texts, cited)
    if bad:
        raise InputError(table.field, f"percentage {bad[0]!r} is not in any cited source")


def _side_effect(table: _Table, sources: Sources) -> SideEffect:
    effect = SideEffect(
        id=table.text("id"), name=table.text("name"), synonyms=table.texts("synonyms"),
        onset=table.text("onset"), duration=table.text("duration"),
        reported=table.text("reported"), when_persisting=table.text("when_persisting"),
        sources=table.cited(sources),
    )
    texts = (effect.name, effect.onset, effect.duration, effect.reported, effect.when_persisting)
    _traceable(table, texts, effect.sources, sources)
    return effect


def _red_flag(table: _Table, sources: Sources) -> RedFlag:
    flag = RedFlag(
        id=table.text("id"), name=table.text("name"), signs=table.texts("signs"),
        triggers=table.texts("triggers"), action=table.text("action"),
        sources=table.cited(sources),
    )
    _traceable(table, (flag.name, flag.action, *flag.signs), flag.sources, sources)
    return flag


def parse_side_effects(data: dict[str, Any], sources: Sources) -> SideEffectCourse:
    root = _Table(data, "side_effects")
    effects = tuple(_side_effect(t, sources) for t in root.tables("side_effects"))
    flags = tuple(_red_flag(t, sources) for t in root.tables("red_flags"))
    _unique(effects, "side_effects")
    _unique(flags, "red_flags")
    return SideEffectCourse(effects, flags)


@cache
def load_side_effects() -> SideEffectCourse:
    return parse_side_effects(_read("side_effects.toml"), load_sources())


def side_effect_for(text: str, course: SideEffectCourse | None = None) -> SideEffect | None:
    """The side effect a diary entry names ("vivid dreams", "Insomnia"), most specific first.
    Plurals and misspellings of the listed names count ("Vivid dream", "insomina")."""
    text = _required_text(text, "side_effect")
    course = course or load_side_effects()
    entry = FreeText(text, vocabulary(tuple(p for e in course.side_effects
                                            for p in (e.name, *e.synonyms))))
    best, best_score = None, 0
    for effect in course.side_effects:
        score = max((len(normalise(p)) for p in (effect.name, *effect.synonyms)
                     if entry.contains(p)), default=0)
        if score > best_score:
            best, best_score = effect, score
    return best


def red_flag_vocabulary(course: SideEffectCourse,
                        extra: Iterable[str] = ()) -> Vocabulary:
    """The words of every red-flag trigger (and `extra` phrases), to read diary text with."""
    return vocabulary((*(t for f in course.red_flags for t in f.triggers), *extra))


def red_flags_in_note(note: str, course: SideEffectCourse,
                      words: Vocabulary | None = None) -> tuple[tuple[RedFlag, str], ...]:
    """Every red flag a free-text note affirms, each with the first trigger phrase found.
    Plurals and misspellings of the trigger words count (see `Vocabulary`)."""
    text, found = FreeText(note, words or red_flag_vocabulary(course)), []
    for flag in course.red_flags:
        phrase = next((t for t in flag.triggers if text.affirms(t)), None)
        if phrase is not None:
            found.append((flag, phrase))
    return tuple(found)


def red_flags_for(text: str, course: SideEffectCourse | None = None) -> tuple[RedFlag, ...]:
    """Every red flag whose trigger phrases occur in a diary entry, in file order. Plurals
    and misspellings of the trigger words count (see `Vocabulary`)."""
    text = _required_text(text, "side_effect")
    course = course or load_side_effects()
    entry = FreeText(text, red_flag_vocabulary(course))
    return tuple(f for f in course.red_flags if any(entry.contains(t) for t in f.triggers))
