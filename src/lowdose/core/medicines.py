"""Recognise a medicine in free text: names, brands, combinations, strengths, route, misspellings.

`recognize(text, rxnorm, vocabulary)` reads one medication entry as people write it
("Norco 5/325 mg every 6 h as needed", "oxycodon", "Butrans 10 mcg/h patch") and reports what
it is with how sure the reading is. Exact names always win over corrected spellings; when a
misspelt word is close to names of different classes the result is `ambiguous`, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from lowdose.errors import InputError
from lowdose.knowledge.medicines import (
    Concept,
    MedicineVocabulary,
    NameHit,
    RxNormProduct,
    Tokens,
    normalize,
    split_normalized,
    token_spans,
)

MATCHED, AMBIGUOUS, UNKNOWN = "matched", "ambiguous", "unknown"
RXNORM, EXACT, FUZZY = "rxnorm", "exact", "fuzzy"
_METHOD_RANK = {RXNORM: 0, EXACT: 1, FUZZY: 2}

_T = TypeVar("_T")
_new_object = object.__new__


def make_frozen(kind: type[_T], /, **fields: Any) -> _T:
    """`kind(**fields)` for a frozen dataclass, every field given and no `__post_init__`.

    The generated `__init__` of a frozen dataclass sets each field with its own
    `object.__setattr__` call (18 for a Recognition, made for each of a profile's entries);
    filling the instance's `__dict__` at once makes the same object in half the time.
    """
    made = _new_object(kind)
    made.__dict__.update(fields)
    return made


@dataclass(frozen=True)
class Strength:
    ingredient: str
    value: float
    unit: str

    def to_dict(self) -> dict[str, Any]:
        return {"ingredient": self.ingredient, "value": self.value, "unit": self.unit}


@dataclass(frozen=True)
class DailyAmount:
    """Milligrams a day of one ingredient, as a range (low == high when exact)."""

    ingredient: str
    low_mg: float
    high_mg: float

    def to_dict(self) -> dict[str, Any]:
        return {"ingredient": self.ingredient, "low_mg": round(self.low_mg, 3),
                "high_mg": round(self.high_mg, 3)}


@dataclass(frozen=True)
class ConceptMatch:
    """One vocabulary concept found in the entry, and how."""

    concept: str
    name: str
    brand: str | None
    cls: str
    ingredients: tuple[str, ...]
    method: str
    confidence: float
    words: str
    sources: tuple[str, ...]
    primary: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"concept": self.concept, "name": self.name, "brand": self.brand,
                "class": self.cls, "ingredients": list(self.ingredients),
                "method": self.method, "confidence": round(self.confidence, 3),
                "words": self.words, "sources": list(self.sources)}


@dataclass(frozen=True)
class Reading:
    """One class the entry belongs to, the ingredients behind it and the brands naming it."""

    cls: str
    primary: tuple[str, ...]
    brands: tuple[str, ...]

    def label(self) -> str:
        brands = f" ({', '.join(self.brands)})" if self.brands else ""
        return f"{' / '.join(self.primary)}{brands}"

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.cls, "matched": self.label()}


@dataclass(frozen=True)
class Recognition:
    """What one medication entry was read as.

    `status` is `matched` (at least one concept found, nothing left in doubt), `ambiguous`
    (a word close to names of different classes; `candidates` lists them) or `unknown`.
    """

    text: str | None
    rxnorm: str | None
    status: str
    matches: tuple[ConceptMatch, ...]
    candidates: tuple[ConceptMatch, ...]  # the competing readings when ambiguous
    readings: tuple[Reading, ...]  # most significant class first
    ingredients: tuple[str, ...]
    strengths: tuple[Strength, ...]
    daily: tuple[DailyAmount, ...]
    route: str | None
    form: str | None
    as_needed: bool
    stopped: bool
    stopped_on: date | None
    ldn_cue: bool
    sources: tuple[str, ...] = ()
    # Words joined to a recognised name as a combination ("acetaminophen/xyzzyfen") that name
    # nothing known: the entry is only partly read, so it must not pass as recognised.
    unread: tuple[str, ...] = ()
    allergy: bool = False  # the entry names an allergy or intolerance, not a medicine taken

    @property
    def classes(self) -> tuple[str, ...]:
        if len(self.readings) == 1:  # the usual case, read for every finding
            return (self.readings[0].cls,)
        return tuple(r.cls for r in self.readings)

    @property
    def cls(self) -> str | None:
        return self.readings[0].cls if self.readings else None

    @property
    def method(self) -> str | None:
        methods = [m.method for m in self.matches]
        return max(methods, key=_METHOD_RANK.__getitem__) if methods else None

    @property
    def confidence(self) -> float:
        if self.status != MATCHED:
            return 0.0
        return min(m.confidence for m in self.matches)

    def label(self, cls: str | None = None) -> str:
        """`hydrocodone (Norco)`: what gives the entry its class (the most significant one
        unless `cls` is named), with the brand as written in the vocabulary."""
        for reading in self.readings:
            if cls is None or reading.cls == cls:
                return reading.label()
        return " or ".join(dict.fromkeys(c.name for c in self.candidates)) or "unknown"

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "rxnorm": self.rxnorm, "status": self.status,
            "matched": self.label() if self.status != UNKNOWN else None,
            "class": self.cls, "readings": [r.to_dict() for r in self.readings],
            "method": self.method,
            "confidence": round(self.confidence, 3),
            "concepts": [m.to_dict() for m in self.matches],
            "candidates": [c.to_dict() for c in self.candidates],
            "ingredients": list(self.ingredients),
            "strengths": [s.to_dict() for s in self.strengths],
            "daily_mg": [d.to_dict() for d in self.daily],
            "route": self.route, "form": self.form, "as_needed": self.as_needed,
            "stopped": self.stopped,
            "stopped_on": self.stopped_on.isoformat() if self.stopped_on else None,
        }


def recognize(text: str | None, rxnorm: str | None,
              vocabulary: MedicineVocabulary) -> Recognition:
    """Read one medication entry; `text` and `rxnorm` may each be missing, not both."""
    text = text.strip() if text else None
    rxnorm = rxnorm.strip() if rxnorm else None
    if not text and not rxnorm:
        raise InputError("text", "give the medicine's name or its RxNorm code")
    normalized = normalize(text or "")
    tokens = split_normalized(normalized)
    product = vocabulary.rxnorm.get(rxnorm) if rxnorm else None
    found = _find_names(tokens, vocabulary)
    matches = _concept_matches(found, vocabulary)
    cues = _scan(tokens, vocabulary)
    text_cues = vocabulary.text
    route, form = _dosage(cues, vocabulary, product, matches)
    if product is not None:
        matches = [_product_match(product, vocabulary), *matches]
    readings = _readings(matches, route, form, vocabulary)
    primary = readings[0].primary if readings else ()
    ingredients = (matches[0].ingredients if len(matches) == 1
                   else tuple(dict.fromkeys(i for m in matches for i in m.ingredients)))
    status = AMBIGUOUS if found.ambiguous else MATCHED if matches else UNKNOWN
    # Strengths and daily amounts both need these; most entries without a number skip both.
    has_number = _DIGIT.search(normalized) is not None
    stated = _stated_daily(normalized) if has_number else None
    strengths = _strengths(normalized, has_number, stated, found, matches, product, vocabulary)
    stopped = not text_cues.stopped.isdisjoint(cues)
    return make_frozen(  # every field of Recognition, in its order
        Recognition, text=text, rxnorm=rxnorm, status=status, matches=tuple(matches),
        candidates=tuple(found.ambiguous), readings=readings, ingredients=ingredients,
        strengths=strengths,
        daily=(_daily(normalized, stated, cues, strengths, primary, vocabulary)
               if has_number else ()),
        route=route, form=form,
        as_needed=not text_cues.as_needed.isdisjoint(cues),
        stopped=stopped, stopped_on=_stop_date(normalized) if stopped else None,
        ldn_cue=not text_cues.ldn.isdisjoint(cues),
        sources=(matches[0].sources if len(matches) == 1
                 else tuple(dict.fromkeys(s for m in matches for s in m.sources))),
        unread=_unread_partners(normalized, tokens, found, vocabulary),
        allergy=not text_cues.allergy.isdisjoint(cues),
    )


# --- finding names -------------------------------------------------------------------------


@dataclass(slots=True)
class _Hit:
    start: int
    end: int
    concept: str
    method: str
    confidence: float
    words: str


@dataclass(slots=True)
class _Found:
    hits: list[_Hit] = field(default_factory=list)
    ambiguous: list[ConceptMatch] = field(default_factory=list)


def _find_names(tokens: Tokens, vocabulary: MedicineVocabulary) -> _Found:
    """Exact names first, longest first; then the words left outside them that may be
    misspelt names, in the order written."""
    found = _Found()
    longest_from, names = vocabulary.longest_from, vocabulary.names
    min_length, plain = vocabulary.matching.min_fuzzy_length, vocabulary.plain_words
    doubtful: list[int] = []  # positions of words outside every exact name
    end = 0
    for i, word in enumerate(tokens):
        if i < end:
            continue  # a word of the name just found
        longest = longest_from.get(word)
        if longest == 1:  # only a one-word name starts with it (most names): no search
            span: tuple[int, tuple[NameHit, ...]] | None = (i + 1, names[(word,)])
        else:
            span = _longest_name(tokens, i, longest, names) if longest else None
        if span is not None:
            end, hits = span
            words = word if end == i + 1 else " ".join(tokens[i:end])
            for hit in hits:
                confidence = (vocabulary.matching.misspelling_confidence if hit.misspelling
                              else 1.0)
                found.hits.append(_Hit(i, end, hit.concept, EXACT, confidence, words))
        elif len(word) >= min_length and word not in plain and word.isalpha():
            doubtful.append(i)  # _may_be_misspelt, inlined: this runs for every word
    if doubtful:  # rare: most entries are spelt right
        consumed = [False] * len(tokens)
        for name in found.hits:
            consumed[name.start:name.end] = [True] * (name.end - name.start)
        for position in doubtful:
            if not consumed[position]:  # a correction before it may have taken it
                _correct(tokens, position, consumed, vocabulary, found)
    absent = vocabulary.text.absent_after
    if found.hits and not absent.isdisjoint(tokens):  # "codeine-free": rare
        count = len(tokens)
        found.hits = [h for h in found.hits if h.end >= count or tokens[h.end] not in absent]
    if len(found.hits) > 1:
        found.hits.sort(key=lambda h: (h.start, h.concept))
    return found


def _longest_name(tokens: Tokens, start: int, longest: int,
                  names: Mapping[Tokens, tuple[NameHit, ...]]
                  ) -> tuple[int, tuple[NameHit, ...]] | None:
    """The longest name starting at `start`; `longest`: most words a name has from there."""
    for n in range(min(longest, len(tokens) - start), 0, -1):
        hits = names.get(tokens[start:start + n])
        if hits:
            return start + n, hits
    return None


_JOINS = frozenset("/+&")
_JOIN_WORDS = frozenset({"and", "plus"})


def _unread_partners(normalized: str, words: Tokens, found: _Found,
                     vocabulary: MedicineVocabulary) -> tuple[str, ...]:
    """Name-like words joined to a recognised name as a combination ("/", "+", "&", "and",
    "plus" between them) that are themselves no known name."""
    if not found.hits or not ("/" in normalized or "+" in normalized or "&" in normalized
                              or not _JOIN_WORDS.isdisjoint(words)):
        return ()  # nothing recognised, or nothing joined to it: most entries
    covered = {i for hit in found.hits for i in range(hit.start, hit.end)}
    named = sorted(covered)
    doubtful = {m.words for m in found.ambiguous}
    # Only a name-like word outside the names can be one; "Norco 5/325" has none, so the
    # words' offsets are found only when there is one.
    min_length, plain = vocabulary.matching.min_fuzzy_length, vocabulary.plain_words
    partners = [i for i, word in enumerate(words) if i not in covered and word not in doubtful
                # _may_be_misspelt, inlined: this runs for every other word of the entry
                and len(word) >= min_length and word not in plain and word.isalpha()]
    if not partners:
        return ()
    tokens, starts = token_spans(normalized)  # the same words as `words`, with offsets

    def joined(left: int, right: int) -> bool:
        between = tokens[left + 1:right]
        if between:
            return all(word in _JOIN_WORDS for word in between)
        gap = normalized[starts[left] + len(tokens[left]):starts[right]]
        return bool(_JOINS & set(gap))

    unread = []
    for i in partners:
        word = tokens[i]
        before = [j for j in named if j < i]
        after = [j for j in named if j > i]
        if (before and joined(before[-1], i)) or (after and joined(i, after[0])):
            unread.append(word)
    return tuple(dict.fromkeys(unread))


def _may_be_misspelt(word: str, vocabulary: MedicineVocabulary) -> bool:
    # Cheapest test first: this runs for every word of every entry.
    return (len(word) >= vocabulary.matching.min_fuzzy_length
            and word not in vocabulary.plain_words and word.isalpha())


def _correct(tokens: Tokens, position: int, consumed: list[bool],
             vocabulary: MedicineVocabulary, found: _Found) -> None:
    """Read a misspelt word as the closest name word; several close names of different
    classes make the entry ambiguous rather than a guess."""
    m = vocabulary.matching
    results = vocabulary.close_words(tokens[position])
    if not results or results[0][1] < m.fuzzy_threshold:
        return
    best = results[0][1]
    readings: list[tuple[float, int, int, tuple[str, ...]]] = []
    for word, score in results:
        if score < best - m.ambiguity_margin:
            continue
        corrected = (*tokens[:position], word, *tokens[position + 1:])
        span = _name_through(corrected, position, consumed, vocabulary)
        if span is not None:
            start, end, concepts = span
            readings.append((score, start, end, concepts))
    if not readings:
        return
    classes = {frozenset(_class_of(vocabulary.concepts[c], vocabulary) for c in r[3])
               for r in readings}
    if len(classes) > 1:
        for score, _, _, concepts in readings:
            for cid in concepts:
                found.ambiguous.append(_match(vocabulary.concepts[cid], FUZZY, score / 100,
                                              tokens[position]))
        return
    score, start, end, concepts = readings[0]
    for cid in concepts:
        found.hits.append(_Hit(start, end, cid, FUZZY, score / 100,
                               " ".join(tokens[start:end])))
    consumed[start:end] = [True] * (end - start)


def _class_of(concept: Concept, vocabulary: MedicineVocabulary) -> str:
    """A substance's class as a product (methadone is dependence treatment, as Methadose)."""
    return concept.cls if concept.brand else vocabulary.classify(concept.ingredients)


def _name_through(tokens: Sequence[str], position: int, consumed: list[bool],
                  vocabulary: MedicineVocabulary) -> tuple[int, int, tuple[str, ...]] | None:
    """The longest name covering `position` that overlaps no name already found."""
    for n in range(min(vocabulary.max_name_tokens, len(tokens)), 0, -1):
        for start in range(max(0, position - n + 1), min(position, len(tokens) - n) + 1):
            if any(consumed[start:start + n]):
                continue
            hits = vocabulary.names.get(tuple(tokens[start:start + n]))
            correct = tuple(h.concept for h in hits or () if not h.misspelling)
            if correct:
                return start, start + n, correct
    return None


def _match(concept: Concept, method: str, confidence: float, words: str) -> ConceptMatch:
    return make_frozen(  # every field of ConceptMatch, in its order
        ConceptMatch, concept=concept.id, name=concept.name,
        brand=concept.name if concept.brand else None, cls=concept.cls,
        ingredients=concept.ingredients, method=method, confidence=confidence, words=words,
        sources=concept.sources, primary=concept.primary,
    )


def _concept_matches(found: _Found, vocabulary: MedicineVocabulary) -> list[ConceptMatch]:
    if len(found.hits) == 1:  # the usual case: one name
        hit = found.hits[0]
        return [_match(vocabulary.concepts[hit.concept], hit.method, hit.confidence, hit.words)]
    best: dict[str, ConceptMatch] = {}
    for hit in found.hits:
        concept = vocabulary.concepts[hit.concept]
        match = _match(concept, hit.method, hit.confidence, hit.words)
        if hit.concept not in best or best[hit.concept].confidence < match.confidence:
            best[hit.concept] = match
    return list(best.values())


def _product_match(product: RxNormProduct, vocabulary: MedicineVocabulary) -> ConceptMatch:
    brand = vocabulary.concepts[product.brand].name if product.brand else None
    return ConceptMatch(
        concept=f"rxnorm:{product.code}", name=product.display, brand=brand, cls=product.cls,
        ingredients=product.ingredients, method=RXNORM, confidence=1.0, words=product.code,
        sources=product.sources, primary=product.primary,
    )


# --- classes -------------------------------------------------------------------------------


def _readings(matches: list[ConceptMatch], route: str | None, form: str | None,
              vocabulary: MedicineVocabulary) -> tuple[Reading, ...]:
    """The entry's classes, most significant first, each with what it rests on.

    A brand or an RxNorm product keeps its own class. Substances named on their own are read
    together as one product ("buprenorphine/naloxone film"), unless they only spell out
    the ingredients of a product already named ("Norco (hydrocodone/APAP)").
    """
    if len(matches) == 1:  # the usual case: one product or one substance named
        only = matches[0]
        if only.brand or only.method == RXNORM:
            return (make_frozen(Reading, cls=only.cls, primary=only.primary,
                            brands=(only.brand,) if only.brand else ()),)
        return (make_frozen(Reading, cls=vocabulary.classify(only.ingredients, route, form),
                        primary=only.primary, brands=()),)
    products = [m for m in matches if m.brand or m.method == RXNORM]
    in_products = {i for m in products for i in m.ingredients}
    loose = tuple(dict.fromkeys(i for m in matches if m not in products
                                for i in m.ingredients if i not in in_products))
    parts = [(m.cls, m.primary, (m.brand,) if m.brand else ()) for m in products]
    if loose:
        parts.append((vocabulary.classify(loose, route, form), vocabulary.primary(loose), ()))
    merged: dict[str, tuple[list[str], list[str]]] = {}
    for cls, primary, brands in parts:
        ingredients, named = merged.setdefault(cls, ([], []))
        ingredients.extend(i for i in primary if i not in ingredients)
        named.extend(b for b in brands if b not in named)
    return tuple(Reading(cls, tuple(merged[cls][0]), tuple(merged[cls][1]))
                 for cls in sorted(merged, key=vocabulary.rank))


# --- route, form, cues ---------------------------------------------------------------------


def _scan(tokens: Tokens, vocabulary: MedicineVocabulary) -> list[Tokens]:
    """Every form, route, frequency and cue phrase in the text, in the order written.

    Cue kinds held as sets are then tested with `isdisjoint` (one pass in C)."""
    found: list[Tokens] = []
    starting_with = vocabulary.text.starting_with
    for i, word in enumerate(tokens):
        phrases = starting_with.get(word)
        if phrases:
            for phrase in phrases:
                # The phrase starts with `word`: one word long, it is there already.
                n = len(phrase)
                if n == 1 or tokens[i:i + n] == phrase:
                    found.append(phrase)
    return found


def _first(cues: list[Tokens], kind: Container[Tokens]) -> Tokens | None:
    for phrase in cues:
        if phrase in kind:
            return phrase
    return None


def _dosage(cues: list[Tokens], vocabulary: MedicineVocabulary,
            product: RxNormProduct | None,
            matches: list[ConceptMatch]) -> tuple[str | None, str | None]:
    """Route and form: an RxNorm product says them; otherwise the words of the text do, and
    what they leave open comes from a named brand that exists in one form only."""
    if product is not None and product.form:
        return product.route, product.form
    text = vocabulary.text
    form_phrase, route_phrase = _first(cues, text.forms), _first(cues, text.routes)
    form, usual_route = text.forms[form_phrase] if form_phrase else (None, None)
    route = text.routes[route_phrase] if route_phrase else None
    if len(matches) == 1:  # the usual case: no list of brands to build
        brand = vocabulary.concepts[matches[0].concept] if matches[0].brand else None
    else:
        brands = [m for m in matches if m.brand]
        brand = vocabulary.concepts[brands[0].concept] if len(brands) == 1 else None
    if route is None and brand is not None and form in (None, brand.form):
        route = brand.route
    return route or usual_route, form or (brand.form if brand else None)


_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def _stop_date(text: str) -> date | None:
    """An ISO date written with a stop cue ("stopped 2025-05-20"); other date styles are
    ambiguous (5/6 is May or June) and are not read."""
    for candidate in _ISO_DATE.findall(text):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    return None


# --- strengths and daily amounts -----------------------------------------------------------

_DIGIT = re.compile(r"\d")
_SEPARATOR = re.compile(r"[/-]")
_NUMBER = r"\d+(?:\.\d+)?"
# A number not joined to one before it ("5/325" is read whole, never as "325"). The digit is
# matched before the look-behind so the regex engine can skip straight to digits.
_STRENGTH = re.compile(
    rf"(?P<values>\d(?<![\d.#/-]\d)\d*(?:\.\d+)?(?:\s*[/-]\s*{_NUMBER})*)\s*"
    r"(?P<unit>mg/ml|mg/5\s*ml|mcg/h(?:r|our)?|µg/h(?:r|our)?|ug/h(?:r|our)?|mg/h(?:r)?|"
    r"mg|mcg|µg|ug|g|iu)?(?![a-z/])",
)
_DAILY = re.compile(
    rf"(?P<low>{_NUMBER})(?:\s*(?:-|–|to)\s*(?P<high>{_NUMBER}))?\s*(?P<unit>mg|mcg|µg|ug|g)"
    r"\s*(?:/|per|a|each)\s*(?:day|d|24\s*h(?:ours?|rs?)?)\b"
)
_EVERY_HOURS = re.compile(
    rf"\b(?:every|q)\s*(?P<low>{_NUMBER})(?:\s*(?:-|–|to)\s*(?P<high>{_NUMBER}))?\s*"
    r"(?:h|hr|hrs|hours?)\b"
)
# "3 times a day", "3x daily", and the count after the x: "x 3 a day", "x3/day".
_TIMES_A_DAY = re.compile(
    r"\b(?:(?P<n>\d+|one|two|three|four|five|six)\s*(?:x|times)"
    r"|x\s*(?P<after>\d+|one|two|three|four|five|six))\s*(?:a|per|/|each)?\s*"
    r"(?:day|daily)\b"
)
_COUNT = rf"{_NUMBER}|one|two|three|four|half"
_UNITS_PER_DOSE = re.compile(
    rf"\b(?P<n>{_COUNT})(?:\s*(?:-|–|to|or)\s*(?P<high>{_COUNT}))?\s*"
    r"(?:tablets?|tabs?|capsules?|caplets?|caps?|pills?)"
    r"(?P<per_day>\s*(?:a|per|/|each)\s*day|\s*daily)?"
)
_WORD_NUMBERS = {"one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
                 "half": 0.5}
_TO_MG = {"mg": 1.0, "mcg": 0.001, "µg": 0.001, "ug": 0.001, "g": 1000.0}


def _number(text: str) -> float:
    return _WORD_NUMBERS.get(text) or float(text)


_UNIT_NAMES = {"µg": "mcg", "ug": "mcg", "mcg/hr": "mcg/h", "mcg/hour": "mcg/h",
               "µg/h": "mcg/h", "µg/hr": "mcg/h", "µg/hour": "mcg/h", "ug/h": "mcg/h",
               "ug/hr": "mcg/h", "ug/hour": "mcg/h", "mg/hr": "mg/h", "mg/5ml": "mg/5 ml"}


def _unit(raw: str | None) -> str | None:
    if raw is None:
        return None
    unit = raw if raw.isalpha() else "".join(raw.split())  # "mg": no spaces to take out
    return _UNIT_NAMES.get(unit, unit)


def _strengths(text: str, has_number: bool, stated: re.Match[str] | None, found: _Found,
               matches: list[ConceptMatch], product: RxNormProduct | None,
               vocabulary: MedicineVocabulary) -> tuple[Strength, ...]:
    """Strengths as written, each given to its ingredient; else a product's fixed ones.
    `stated`: the daily total written in `text`, if any."""
    if product is not None and product.strengths:
        return tuple(Strength(s.ingredient, s.value, s.unit) for s in product.strengths)
    written: list[Strength] = []
    if has_number:
        # Daily totals ("60-100 mg/day") are not strengths; blank them, keeping offsets.
        searched = _DAILY.sub(lambda m: " " * len(m.group(0)), text) if stated else text
        written = _written_strengths(searched, text, found, matches, vocabulary)
    if written:
        return tuple(written)
    return tuple(Strength(i, v, "mg") for m in matches if m.brand
                 for i, v in vocabulary.concepts[m.concept].fixed_strengths)


def _written_strengths(searched: str, text: str, found: _Found, matches: list[ConceptMatch],
                       vocabulary: MedicineVocabulary) -> list[Strength]:
    """Strengths found in `searched` (`text` with its daily totals blanked). Name hits count
    the tokens of `text` itself: blanking removes tokens, not characters."""
    written: list[Strength] = []
    offsets: tuple[int, ...] | None = None
    for m in _STRENGTH.finditer(searched):
        values_text, raw_unit = m.group("values", "unit")
        if raw_unit is None and "/" not in values_text and "-" not in values_text:
            continue  # a bare number is a count or a time, not a strength
        values_text = values_text.replace(" ", "")
        values = ([float(values_text)] if values_text.isdigit()
                  else [float(v) for v in _SEPARATOR.split(values_text)])
        unit = _unit(raw_unit)
        hits = found.hits
        if len(hits) > 1:  # only the names written before the number
            offsets = offsets or token_spans(text)[1]
            hits = [h for h in found.hits if offsets[h.start] < m.start()] or found.hits
        # "5-325" is a combination only where it fits one; "5-10 mg" is a range of doses.
        targets = _strength_targets(values, hits, matches, vocabulary,
                                    strict="-" in values_text)
        if targets is None:
            continue
        if len(values) == 1:  # the usual case
            written.append(make_frozen(Strength, ingredient=targets[0], value=values[0],
                                   unit=unit or "mg"))
        else:
            written.extend(make_frozen(Strength, ingredient=i, value=v, unit=unit or "mg")
                           for i, v in zip(targets, values, strict=True))
    return written


def _strength_targets(values: list[float], hits: list[_Hit], matches: list[ConceptMatch],
                      vocabulary: MedicineVocabulary, *,
                      strict: bool = False) -> tuple[str, ...] | None:
    """Which ingredient each written number belongs to (`hits`: names written before it).

    `5/325` after a brand follows the combinations on the market, else the brand's usual
    order (opioid first); after named substances it follows the order they were written in;
    a single number belongs to the substance named just before it, else to the entry's most
    significant ingredient. `strict`: only a fit with the substances or with a combination
    on the market counts.
    """
    if len(values) == 1 and not strict and hits:
        last = vocabulary.concepts[hits[-1].concept].ingredients
        if len(last) == 1:
            return last  # "metformin 500 mg", "Ultram 50 mg"
    named = [vocabulary.concepts[h.concept] for h in hits]
    loose = list(dict.fromkeys(i for c in named if not c.brand for i in c.ingredients))
    brands = [vocabulary.concepts[m.concept] for m in matches if m.brand
              and m.concept in vocabulary.concepts]
    if len(values) == 1:
        pool = loose or [i for b in brands for i in b.ingredients]
        return (_most_significant(pool, vocabulary),) if pool else None
    if len(loose) == len(values):
        return tuple(loose)
    for brand in brands:
        if len(brand.ingredients) == len(values):
            known = _known_order(brand, values)
            return known if known or strict else brand.ingredients
    return None


def _most_significant(ingredients: Sequence[str], vocabulary: MedicineVocabulary) -> str:
    return min(ingredients, key=lambda i: vocabulary.rank(vocabulary.ingredients[i].cls))


def _known_order(brand: Concept, values: list[float]) -> tuple[str, ...] | None:
    """The ingredient order in which `values` is a combination the brand is sold in."""
    for known in brand.known_strengths:
        table = dict(known)
        for order in (brand.ingredients, tuple(reversed(brand.ingredients))):
            if all(table.get(i) == v for i, v in zip(order, values, strict=True)):
                return tuple(order)
    return None


def _stated_daily(text: str) -> re.Match[str] | None:
    """"60-100 mg/day", "2 mg a day": a daily total, not a strength."""
    if "day" not in text and "/d" not in text and "24" not in text:
        return None
    return _DAILY.search(text)


def _doses_per_day(text: str, cues: list[Tokens],
                   vocabulary: MedicineVocabulary) -> tuple[float, float] | None:
    # Cheap word checks first: most entries have no such schedule to search for.
    every = _EVERY_HOURS.search(text) if "every" in text or "q" in text else None
    if every:
        low_h = float(every.group("low"))
        high_h = float(every.group("high") or low_h)
        if low_h > 0 and high_h > 0:
            return 24 / high_h, 24 / low_h
    times = (_TIMES_A_DAY.search(text)
             if ("times" in text or "x" in text) and ("day" in text or "daily" in text)
             else None)
    if times:
        n = _number(times.group("n") or times.group("after"))
        return n, n
    frequency = vocabulary.text.frequency
    # Prefer the longest phrase ("three times a day" over "a day"), the first one written
    # of that length; a loop, not a comprehension and max() (each a call in Python 3.11).
    longest: Tokens | None = None
    for phrase in cues:
        if phrase in frequency and (longest is None or len(phrase) > len(longest)):
            longest = phrase
    if longest is not None:
        n = frequency[longest]
        return n, n
    return None


def _daily(text: str, stated: re.Match[str] | None, cues: list[Tokens],
           strengths: tuple[Strength, ...], primary: tuple[str, ...],
           vocabulary: MedicineVocabulary) -> tuple[DailyAmount, ...]:
    """Milligrams a day: as stated ("60-100 mg/day", `stated`), else strength × units per
    dose × doses a day, as a range when the schedule is one ("1-2 tabs q4-6h"). Only for
    text with a number in it."""
    if stated:
        factor = _TO_MG[_unit(stated.group("unit")) or "mg"]
        low = float(stated.group("low")) * factor
        high = float(stated.group("high") or stated.group("low")) * factor
        target = primary[0] if primary else (strengths[0].ingredient if strengths else None)
        return (DailyAmount(target, low, high),) if target else ()
    # One strength is the usual case: no comprehension (in Python 3.11, a call of its own).
    in_mass = (list(strengths) if len(strengths) == 1 and strengths[0].unit in _TO_MG
               else [s for s in strengths if s.unit in _TO_MG])
    if not in_mass:
        return ()
    units = (_UNITS_PER_DOSE.search(text)
             if "tab" in text or "cap" in text or "pill" in text else None)
    per_dose = (1.0, 1.0)
    if units:
        per_dose = (_number(units.group("n")), _number(units.group("high") or units.group("n")))
    per_day = _doses_per_day(text, cues, vocabulary)
    if units and units.group("per_day"):
        per_day, per_dose = per_dose, (1.0, 1.0)
    if per_day is None:
        return ()
    if len(in_mass) == 1:  # the usual case: one ingredient
        s = in_mass[0]
        mg = s.value * _TO_MG[s.unit]
        return (make_frozen(DailyAmount, ingredient=s.ingredient,
                        low_mg=mg * per_dose[0] * per_day[0],
                        high_mg=mg * per_dose[1] * per_day[1]),)
    return tuple(
        DailyAmount(s.ingredient, s.value * _TO_MG[s.unit] * per_dose[0] * per_day[0],
                    s.value * _TO_MG[s.unit] * per_dose[1] * per_day[1])
        for s in in_mass
    )
