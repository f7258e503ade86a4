"""Typed loader for the safety screen's facts: levels, rules, parameters, condition words.

`load_screening_knowledge()` bundles what `core.screening.screen` needs: this file's rules,
the medicine vocabulary, the perioperative facts and the titration facts' dose ceiling. Each
loader reads its file once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from lowdose.knowledge.medicines import (
    MedicineVocabulary,
    Tokens,
    load_medicine_vocabulary,
    tokenize,
)
from lowdose.knowledge.regimens import (
    Ceiling,
    PerioperativeFacts,
    load_perioperative_facts,
    load_titration_facts,
)
from lowdose.knowledge.sources import read_toml


@dataclass(frozen=True)
class Variant:
    """A message used instead of the rule's own when `when` (a class or condition category)
    is what set the rule off; its sources are added to the rule's."""

    when: str
    message: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    code: str
    level: str
    message: str
    sources: tuple[str, ...]
    classes: frozenset[str] = frozenset()
    ingredients: frozenset[str] = frozenset()
    conditions: frozenset[str] = frozenset()
    variants: tuple[Variant, ...] = ()
    extra_messages: Mapping[str, str] | None = None

    def text_for(self, trigger: str | None) -> tuple[str, tuple[str, ...]]:
        """Message and sources for what set the rule off (a class or condition category)."""
        for variant in self.variants:
            if variant.when == trigger:
                return variant.message, tuple(dict.fromkeys((*self.sources, *variant.sources)))
        return self.message, self.sources


@dataclass(frozen=True)
class Interval:
    ingredients: frozenset[str]
    days: int
    basis: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Depot:
    """A long-acting injection (by product concept): current treatment for `days` after it."""

    concepts: frozenset[str]
    days: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Patch:
    """How long an opioid patch of these ingredients is worn: it is in use until it comes off."""

    ingredients: frozenset[str]
    hours: float
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ConditionVocabulary:
    terms: Mapping[Tokens, str]  # phrase → category
    past_category: Mapping[str, str]
    negation_before: frozenset[Tokens]
    negation_after: frozenset[Tokens]
    past: frozenset[Tokens]
    clause_breaks: frozenset[str]
    max_term_tokens: int


@dataclass(frozen=True)
class ScreeningRules:
    levels: tuple[str, ...]  # most severe first
    rules: Mapping[str, Rule]
    current_use_hours: float
    opioid_classes: frozenset[str]
    default_interval: Interval
    longer_intervals: tuple[Interval, ...]
    depots: tuple[Depot, ...]
    patches: tuple[Patch, ...]
    no_medicines: frozenset[Tokens]  # whole entries that say there are no medicines
    loperamide_max_daily_mg: float
    loperamide_otc_max_daily_mg: float
    ldn_max_mg: float
    adult_age: int
    paediatric_mg_per_kg: float
    paediatric_max_mg: float
    egfr_severe_below: float
    conditions: ConditionVocabulary
    # Rules by the ingredient, class or condition category that sets them off.
    by_ingredient: Mapping[str, tuple[Rule, ...]]
    by_class: Mapping[str, tuple[Rule, ...]]
    by_condition: Mapping[str, tuple[Rule, ...]]

    def rank(self, level: str) -> int:
        """0 for the most severe level; `ok` ranks after every level."""
        return self.levels.index(level) if level in self.levels else len(self.levels)

    def interval_for(self, ingredients: tuple[str, ...]) -> Interval:
        longer = [i for i in self.longer_intervals if i.ingredients & set(ingredients)]
        return max(longer, key=lambda i: i.days) if longer else self.default_interval

    def patch_for(self, ingredients: Iterable[str]) -> Patch | None:
        named = set(ingredients)
        worn = [p for p in self.patches if p.ingredients & named]
        return max(worn, key=lambda p: p.hours) if worn else None

    def depot_for(self, concepts: Iterable[str]) -> Depot | None:
        named = set(concepts)
        return next((d for d in self.depots if d.concepts & named), None)


@dataclass(frozen=True)
class ScreeningKnowledge:
    vocabulary: MedicineVocabulary
    rules: ScreeningRules
    perioperative: PerioperativeFacts
    ceiling: Ceiling


def _sources(table: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(s) for s in table.get("sources", ()))


def _rule(code: str, table: Mapping[str, Any]) -> Rule:
    extra = {k: str(v) for k, v in table.items() if k.startswith("message_")}
    return Rule(
        code=code,
        level=str(table["level"]),
        message=str(table["message"]),
        sources=_sources(table),
        classes=frozenset(table.get("classes", ())),
        ingredients=frozenset(table.get("ingredients", ())),
        conditions=frozenset(table.get("conditions", ())),
        variants=tuple(Variant(str(v["when"]), str(v["message"]), _sources(v))
                       for v in table.get("variant", ())),
        extra_messages=extra or None,
    )


def _phrases(words: list[str]) -> frozenset[Tokens]:
    return frozenset(tokenize(w) for w in words)


def _conditions(data: Mapping[str, Any]) -> ConditionVocabulary:
    terms: dict[Tokens, str] = {}
    for category, table in data["conditions"].items():
        for term in table["terms"]:
            terms[tokenize(term)] = category
    cues = data["condition_cues"]
    return ConditionVocabulary(
        terms=terms,
        past_category={c: str(t["past"]) for c, t in data["conditions"].items() if "past" in t},
        negation_before=_phrases(cues["negation_before"]),
        negation_after=_phrases(cues["negation_after"]),
        past=_phrases(cues["past"]),
        clause_breaks=frozenset(cues["clause_breaks"]),
        max_term_tokens=max(len(t) for t in terms),
    )


def _index(rules: Mapping[str, Rule], key: str) -> dict[str, tuple[Rule, ...]]:
    index: dict[str, list[Rule]] = {}
    for rule in rules.values():
        for value in sorted(getattr(rule, key)):
            index.setdefault(value, []).append(rule)
    return {value: tuple(found) for value, found in index.items()}


def rules_from(data: Mapping[str, Any]) -> ScreeningRules:
    """Typed rules from the parsed screening.toml."""
    interval = data["opioid_free_interval"]
    paediatric = data["paediatric"]
    rules = {code: _rule(code, table) for code, table in data["rules"].items()}
    return ScreeningRules(
        levels=tuple(data["levels"]),
        rules=rules,
        current_use_hours=float(data["current_use"]["hours"]),
        opioid_classes=frozenset(interval["opioid_classes"]),
        default_interval=Interval(frozenset(), int(interval["default_days"]),
                                  str(interval["default_basis"]), _sources(interval)),
        longer_intervals=tuple(
            Interval(frozenset(row["ingredients"]), int(row["days"]), str(row["basis"]),
                     _sources(row))
            for row in interval.get("longer", ())
        ),
        depots=tuple(Depot(frozenset(row["concepts"]), int(row["days"]), _sources(row))
                     for row in data["current_use"].get("depot", ())),
        patches=tuple(Patch(frozenset(row["ingredients"]), float(row["hours"]), _sources(row))
                      for row in data["current_use"].get("patch", ())),
        no_medicines=_phrases(list(data["medicines"]["none"])),
        loperamide_max_daily_mg=float(data["loperamide"]["max_daily_mg"]),
        loperamide_otc_max_daily_mg=float(data["loperamide"]["otc_max_daily_mg"]),
        ldn_max_mg=float(data["ldn"]["max_mg"]),
        adult_age=int(paediatric["adult_age"]),
        paediatric_mg_per_kg=float(paediatric["mg_per_kg"]),
        paediatric_max_mg=float(paediatric["max_mg"]),
        egfr_severe_below=float(data["renal"]["egfr_below"]),
        conditions=_conditions(data),
        by_ingredient=_index(rules, "ingredients"),
        by_class=_index(rules, "classes"),
        by_condition=_index(rules, "conditions"),
    )


def read_screening_toml() -> dict[str, Any]:
    return read_toml("screening.toml")


@cache
def load_screening_rules() -> ScreeningRules:
    return rules_from(read_screening_toml())


@cache
def load_screening_knowledge() -> ScreeningKnowledge:
    return ScreeningKnowledge(
        vocabulary=load_medicine_vocabulary(),
        rules=load_screening_rules(),
        perioperative=load_perioperative_facts(),
        ceiling=load_titration_facts().ceiling,
    )
