"""The safety screen: a profile (design §3.1) → a verdict with findings and sources (§3.2).

`screen(profile, knowledge)` reads every medication, condition and planned procedure and
applies the rules of `knowledge/data/screening.toml`. The verdict is the most severe finding;
a medicine it cannot recognise is never passed as safe. "Now" is `profile.as_of`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from lowdose.core.medicines import AMBIGUOUS, EXACT, UNKNOWN, Recognition, make_frozen, recognize
from lowdose.core.perioperative import HoldPlan, plan_hold, readable
from lowdose.errors import InputError
from lowdose.knowledge.medicines import tokenize
from lowdose.knowledge.screening import (
    ConditionVocabulary,
    Interval,
    Patch,
    Rule,
    ScreeningKnowledge,
    ScreeningRules,
)

OK, INFO = "ok", "info"
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Medication:
    text: str | None = None
    rxnorm: str | None = None
    last_taken: date | datetime | None = None
    stopped: date | None = None  # lowdose extension to §3.1: the day it was stopped


@dataclass(frozen=True)
class LdnUse:
    dose_mg: float | None = None
    time: time | None = None
    last_taken: date | datetime | None = None
    # lowdose extension (stored records only): the highest dose a clinician set above the usual
    # ceiling with the override; a dose up to it was reviewed, so it is not flagged again.
    approved_mg: float | None = None


@dataclass(frozen=True)
class Procedure:
    at: datetime
    name: str | None = None
    opioids_expected: bool = False


@dataclass(frozen=True)
class Profile:
    """Design §3.1. Times are local wall-clock times without a time zone."""

    as_of: datetime
    age: int | None = None
    weight_kg: float | None = None
    sex: str | None = None
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    conditions: tuple[str, ...] = ()
    medications: tuple[Medication, ...] = ()
    ldn: LdnUse | None = None
    procedures: tuple[Procedure, ...] = ()


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    trigger: str
    matched: str | None
    message: str
    sources: tuple[str, ...]
    earliest_start: date | None = None  # for `defer` findings

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "level": self.level, "trigger": self.trigger,
                "matched": self.matched, "message": self.message,
                "sources": list(self.sources)}


@dataclass(frozen=True)
class ScreeningResult:
    verdict: str
    findings: tuple[Finding, ...]
    earliest_start: date | None
    perioperative: HoldPlan | None
    procedure: Procedure | None
    medications: tuple[Recognition, ...]

    def to_dict(self) -> dict[str, Any]:
        """Design §3.2, plus `medications`: what each entry was recognised as."""
        return {
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "earliest_start": self.earliest_start.isoformat() if self.earliest_start else None,
            "perioperative": self._perioperative(),
            "medications": [m.to_dict() for m in self.medications],
        }

    def _perioperative(self) -> dict[str, Any] | None:
        if self.perioperative is None:
            return None
        plan = self.perioperative.to_dict()
        name = self.procedure.name if self.procedure else None
        return {"last_dose_by": plan["last_dose_by"], "hold_hours": plan["hold_hours"],
                "can_meet_hold": plan["can_meet_hold"], "procedure": name,
                **{k: v for k, v in plan.items()
                   if k not in ("last_dose_by", "hold_hours", "can_meet_hold")}}


def screen(profile: Profile, knowledge: ScreeningKnowledge, *,
           hold_hours: float | None = None, zone: tzinfo | None = None) -> ScreeningResult:
    """Screen `profile` before starting or continuing LDN.

    `hold_hours` overrides the perioperative hold of the knowledge (72 h by default); `zone`
    is where the profile's clock times are read, so the hold counts real hours.
    """
    _check(profile, knowledge, hold_hours)
    recognitions = tuple(_recognize(i, m, knowledge) for i, m in enumerate(profile.medications))
    conditions = [(text, _categories(text, knowledge.rules)) for text in profile.conditions]
    findings = [f for med, rec in zip(profile.medications, recognitions, strict=True)
                for f in _medication_findings(med, rec, profile, knowledge)]
    # A condition repeats nothing a medicine already said (levothyroxine and Hashimoto's).
    said = {f.code for f in findings}
    findings += [f for f in _condition_findings(conditions, knowledge.rules) if f.code not in said]
    findings += _opioids_in_conditions(conditions, knowledge)
    findings += _flag_findings(profile, conditions, knowledge.rules)
    findings += _ldn_dose_findings(profile, knowledge)
    plans = _perioperative(profile, knowledge, hold_hours, zone)
    findings.extend(_hold_finding(plan, procedure, knowledge.rules, taking=profile.ldn is not None)
                    for procedure, plan in plans)
    findings += _after_surgery_findings(profile, knowledge.rules)
    rules = knowledge.rules
    findings.sort(key=lambda f: rules.rank(f.level))
    above_info = [f for f in findings if f.level != INFO]
    verdict = above_info[0].level if above_info else OK
    # Only a `defer` verdict has a start date: anything more severe stands in its way.
    defer = [f.earliest_start for f in findings
             if f.earliest_start is not None and verdict == "defer"]
    return make_frozen(  # every field of ScreeningResult, in its order
        ScreeningResult, verdict=verdict,
        findings=tuple(findings),
        earliest_start=max(defer) if defer else None,
        perioperative=plans[0][1] if plans else None,
        procedure=plans[0][0] if plans else None,
        medications=recognitions,
    )


# --- input checks --------------------------------------------------------------------------


def _check(profile: Profile, knowledge: ScreeningKnowledge, hold_hours: float | None) -> None:
    for field, moment in _moments(profile):
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            raise InputError(field, "give the local clock time without a time zone")
    as_of = profile.as_of
    taken: list[tuple[str, date | datetime | None]] = [
        (f"medications.{i}.last_taken", m.last_taken)
        for i, m in enumerate(profile.medications) if m.last_taken is not None]
    if profile.ldn is not None:
        taken.append(("ldn.last_taken", profile.ldn.last_taken))
    for field, moment in taken:
        if moment is not None and _after(moment, as_of):
            raise InputError(field, f"{moment.isoformat()} is later than as_of "
                                    f"({as_of.isoformat()}); give a dose already taken")
    if profile.age is not None and not 0 <= profile.age <= 130:
        raise InputError("age", f"must be between 0 and 130 years; got {profile.age}")
    weight = profile.weight_kg
    if weight is not None and not (math.isfinite(weight) and 0 < weight <= 500):
        raise InputError("weight_kg", f"must be more than 0 and at most 500 kg; got {weight:g}")
    limit = knowledge.perioperative.max_hold_hours
    if hold_hours is not None and not (math.isfinite(hold_hours) and 0 < hold_hours <= limit):
        raise InputError("hold_hours", f"must be more than 0 and at most {limit:g} hours; "
                                       f"got {hold_hours:g}")


def _moments(profile: Profile) -> Iterator[tuple[str, object]]:
    yield "as_of", profile.as_of
    for i, med in enumerate(profile.medications):
        if med.last_taken is not None:  # most are not given: no field name to write
            yield f"medications.{i}.last_taken", med.last_taken
    if profile.ldn is not None:
        yield "ldn.last_taken", profile.ldn.last_taken
    for i, procedure in enumerate(profile.procedures):
        yield f"procedures.{i}.at", procedure.at


def _after(moment: date | datetime, as_of: datetime) -> bool:
    if isinstance(moment, datetime):
        return moment > as_of
    return moment > as_of.date()


def _latest_moment(taken: date | datetime) -> datetime:
    """A dose known only by its date may have been taken as late as midnight that day."""
    if isinstance(taken, datetime):
        return taken
    return datetime.combine(taken + _DAY, time())


def _recognize(index: int, med: Medication, knowledge: ScreeningKnowledge) -> Recognition:
    try:
        return recognize(med.text, med.rxnorm, knowledge.vocabulary)
    except InputError as error:
        raise InputError(f"medications.{index}", error.message) from None


# --- findings ------------------------------------------------------------------------------


def _finding(rule: Rule, trigger: str, matched: str | None, values: Mapping[str, Any],
             *, variant: str | None = None, message: str | None = None,
             earliest_start: date | None = None) -> Finding:
    text, sources = rule.text_for(variant)
    filled = (message or text).format_map({"matched": matched, "trigger": trigger, **values})
    return make_frozen(  # every field of Finding, in its order (and faster than its __init__)
        Finding, code=rule.code, level=rule.level, trigger=trigger, matched=matched,
        message=filled[:1].upper() + filled[1:], sources=sources,
        earliest_start=earliest_start,
    )


def _trigger(med: Medication) -> str:
    return med.text or f"RxNorm {med.rxnorm}"


def _medication_findings(med: Medication, rec: Recognition, profile: Profile,
                         knowledge: ScreeningKnowledge) -> Iterator[Finding]:
    rules = knowledge.rules
    if rec.status == UNKNOWN and med.text and tokenize(med.text) in rules.no_medicines:
        return  # "none": no medicine, not an unrecognised one
    if rec.status in (UNKNOWN, AMBIGUOUS) or rec.unread:
        yield _unrecognised(med, rec, rules)
    stopped = rec.stopped or (med.stopped is not None and med.stopped <= profile.as_of.date())
    classes = rec.classes
    # Most entries name no opioid: no list to build (a comprehension is a call in 3.11).
    opioid = ([] if rules.opioid_classes.isdisjoint(classes)
              else [c for c in classes if c in rules.opioid_classes])
    if opioid and rec.allergy and len(rec.matches) == 1:
        # "Allergic to codeine" is not codeine being taken: no contraindication, but a check.
        # With a second medicine in the entry it is unclear which is which: the opioid counts.
        yield _finding(rules.rules["opioid-allergy"], _trigger(med), rec.label(opioid[0]), {})
        return
    if opioid:
        yield from _opioid_findings(med, rec, opioid, stopped, profile, rules)
    if stopped:
        return  # a stopped medicine matters only as a recent opioid
    by_class = rules.by_class
    for cls in classes:
        # Most classes (statins, vitamins...) have no rule: no generator to make for them.
        if cls not in rules.opioid_classes and (cls in by_class or cls in _OWN_CLASS_RULES):
            yield from _class_findings(cls, med, rec, profile, rules)
    by_ingredient = rules.by_ingredient
    if by_ingredient.keys().isdisjoint(rec.ingredients):
        return  # most ingredients have no rule of their own
    named = {rule.code: rule for i in rec.ingredients if i in by_ingredient
             for rule in by_ingredient[i]}
    for rule in named.values():
        yield _finding(rule, _trigger(med), rec.label(), {})


def _unrecognised(med: Medication, rec: Recognition, rules: ScreeningRules) -> Finding:
    names = list(dict.fromkeys(c.name for c in rec.candidates))
    candidates = f" (it could be {' or '.join(names)})" if names else ""
    if med.rxnorm and not med.text:
        candidates = f" (RxNorm code {med.rxnorm} is not in the vocabulary)"
    elif rec.status not in (UNKNOWN, AMBIGUOUS):
        parts = " or ".join(f'"{word}"' for word in rec.unread)
        candidates = f" in full: {parts} names no medicine lowdose knows"
    return _finding(rules.rules["unrecognised-medicine"], _trigger(med),
                    " or ".join(names) or None, {"candidates": candidates})


def _opioid_findings(med: Medication, rec: Recognition, classes: list[str], stopped: bool,
                     profile: Profile, rules: ScreeningRules) -> Iterator[Finding]:
    current, last_day = _exposure(med, rec, stopped, profile.as_of, rules)
    interval = rules.interval_for(rec.ingredients)
    trigger, matched = _trigger(med), rec.label(classes[0])
    depot = rules.depot_for(m.concept for m in rec.matches)
    if depot is not None and last_day is not None:
        # A depot injected within its month is still being released: current treatment.
        current = current or profile.as_of.date() < last_day + timedelta(days=depot.days)
    if current:
        for cls in classes:
            code = ("opioid-dependence-treatment" if cls == "opioid-dependence-treatment"
                    else "active-opioid")
            yield _finding(rules.rules[code], trigger, rec.label(cls), {}, variant=cls)
        return
    patch = _patch(rec, rules) if med.last_taken is not None else None
    if patch is not None:
        # The interval counts from when the patch comes off, not from when it was put on.
        interval = replace(interval, sources=(*interval.sources, *patch.sources), basis=(
            f"{interval.basis}, counted from when the patch comes off ({patch.hours:g} hours "
            f"after it is put on)"))
    values = {"days": interval.days, "basis": interval.basis}
    if "opioid-dependence-treatment" in classes:
        yield _finding(rules.rules["opioid-dependence-history"], trigger, matched, {})
    if depot is not None:
        # No opioid-free interval can be counted from a depot injection's day.
        yield _finding(rules.rules["opioid-depot-stopped"], trigger, matched, {})
        return
    if last_day is None:
        yield _finding(rules.rules["opioid-stop-date-unknown"], trigger, matched, values)
        return
    yield _interval_finding(last_day, interval, trigger, matched, profile, rules)


def _interval_finding(last_day: date, interval: Interval, trigger: str, matched: str,
                      profile: Profile, rules: ScreeningRules) -> Finding:
    earliest = last_day + timedelta(days=interval.days)
    values = {"days": interval.days, "basis": interval.basis,
              "last_day": last_day.isoformat(), "earliest_start": earliest.isoformat()}
    if profile.as_of.date() >= earliest:
        return _finding(rules.rules["opioid-interval-met"], trigger, matched, values)
    finding = _finding(rules.rules["recent-opioid"], trigger, matched, values,
                       earliest_start=earliest)
    # The interval's own sources say where its length comes from.
    return replace(finding, sources=tuple(dict.fromkeys((*finding.sources, *interval.sources))))


def _exposure(med: Medication, rec: Recognition, stopped: bool, as_of: datetime,
              rules: ScreeningRules) -> tuple[bool, date | None]:
    """Is the opioid taken now, and if not, the last day it may have been taken.

    Current unless stopped or last taken more than `current_use_hours` before now; a dose
    known only by its date counts as taken at the end of that day, and a patch until it
    comes off (`last_taken` is when it was put on).
    """
    last_taken = med.last_taken
    patch = _patch(rec, rules)
    worn = timedelta(hours=patch.hours) if patch is not None else timedelta()
    taken_day = ((last_taken + worn).date() if isinstance(last_taken, datetime)
                 else last_taken + worn if last_taken is not None else None)
    if stopped:
        stop_day = med.stopped or rec.stopped_on
        days = [d for d in (stop_day, taken_day) if d is not None]
        return False, max(days) if days else None
    if last_taken is None:
        return True, None
    if as_of - (_latest_moment(last_taken) + worn) <= timedelta(hours=rules.current_use_hours):
        return True, None
    return False, taken_day


def _patch(rec: Recognition, rules: ScreeningRules) -> Patch | None:
    return rules.patch_for(rec.ingredients) if rec.form == "patch" else None


# Classes whose findings are worked out here, whatever rules the knowledge lists for them.
_OWN_CLASS_RULES = frozenset({"loperamide", "naltrexone"})


def _class_findings(cls: str, med: Medication, rec: Recognition, profile: Profile,
                    rules: ScreeningRules) -> Iterator[Finding]:
    class_rules = rules.by_class.get(cls, ())
    if not class_rules and cls not in _OWN_CLASS_RULES:
        return  # most classes (statins, vitamins...) have no rule: no label to write
    trigger, matched = _trigger(med), rec.label(cls)
    if cls == "loperamide":
        yield _loperamide(rec, trigger, matched, rules)
    elif cls == "naltrexone":
        yield _naltrexone(rec, trigger, matched, profile, rules)
    else:
        for rule in class_rules:
            yield _finding(rule, trigger, matched, {}, variant=cls)


def _loperamide(rec: Recognition, trigger: str, matched: str, rules: ScreeningRules) -> Finding:
    limits = {"max_daily_mg": rules.loperamide_max_daily_mg,
              "otc_max_daily_mg": rules.loperamide_otc_max_daily_mg}
    daily = [d for d in rec.daily if d.ingredient == "loperamide"]
    if daily and daily[0].high_mg > rules.loperamide_max_daily_mg:
        amount = daily[0]
        written = (f"{amount.low_mg:g} mg" if amount.low_mg == amount.high_mg
                   else f"{amount.low_mg:g}–{amount.high_mg:g} mg")
        return _finding(rules.rules["loperamide-misuse"], trigger, matched,
                        {**limits, "daily": written})
    return _finding(rules.rules["loperamide"], trigger, matched, limits)


def _naltrexone(rec: Recognition, trigger: str, matched: str, profile: Profile,
                rules: ScreeningRules) -> Finding:
    """LDN itself is expected on the list; another naltrexone product is a duplicate."""
    ldn_values = {"ldn_max_mg": rules.ldn_max_mg}
    brands = [m for m in rec.matches if m.brand and "naltrexone" in m.ingredients]
    if any(m.concept != "ldn" for m in brands):
        return _finding(rules.rules["duplicate-naltrexone"], trigger, matched, {})
    strengths = [s for s in rec.strengths if s.ingredient == "naltrexone"]
    if any(s.unit == "mg" and s.value > rules.ldn_max_mg for s in strengths):
        return _finding(rules.rules["duplicate-naltrexone"], trigger, matched, {})
    # LDN is naltrexone alone; naltrexone/bupropion is Contrave whatever its name.
    if not rec.ldn_cue and any(i != "naltrexone" for i in rec.ingredients):
        return _finding(rules.rules["duplicate-naltrexone"], trigger, matched, {})
    is_ldn = (rec.ldn_cue or bool(brands) or bool(strengths) or profile.ldn is not None)
    code = "ldn-listed" if is_ldn else "naltrexone-dose-unknown"
    return _finding(rules.rules[code], trigger, matched, ldn_values)


# --- conditions and profile flags ----------------------------------------------------------

_CLAUSE = re.compile(r"[,;:.()\[\]/]+")
# eGFR, GFR or creatinine clearance (CrCl), then a value in mL/min (per 1.73 m² for eGFR).
_EGFR = re.compile(r"\b(?:e?gfr|crcl|creatinine clearance)\b[^\d<≤]*(?P<op><=|<|≤)?\s*"
                   r"(?P<value>\d+(?:\.\d+)?)")


def read_condition(text: str, vocabulary: ConditionVocabulary) -> list[tuple[str, str]]:
    """(category, words) for every condition named and not negated in `text`.

    "no liver disease" names nothing; "history of acute hepatitis" names the past
    category of acute hepatitis (hepatic impairment), not acute hepatitis.
    """
    found: list[tuple[str, str]] = []
    previous: tuple[str, ...] = ()
    for clause in _CLAUSE.split(text):
        tokens = tokenize(clause)
        own = list(_read_clause(tokens, vocabulary))
        if not own and previous and tokens:
            # A qualifier set off by itself, as in "hepatitis (acute)" or "hepatitis, acute",
            # belongs to the words before it: read them together too.
            own = [hit for hit in _read_clause(previous + tokens, vocabulary)
                   if hit[0] not in {category for category, _ in found}]
        found.extend(own)
        previous = tokens or previous
    return found


def _read_clause(tokens: tuple[str, ...],
                 vocabulary: ConditionVocabulary) -> Iterator[tuple[str, str]]:
    start, i = 0, 0
    while i < len(tokens):
        if tokens[i] in vocabulary.clause_breaks:
            start, i = i + 1, i + 1
            continue
        hit = _longest_term(tokens, i, vocabulary)
        if hit is None:
            i += 1
            continue
        end, category = hit
        before, after = tokens[start:i], _until_break(tokens[end:], vocabulary)
        if not (_contains(before, vocabulary.negation_before)
                or _contains(after, vocabulary.negation_after)):
            if _contains(before, vocabulary.past) or _contains(after, vocabulary.past):
                category = vocabulary.past_category.get(category, category)
            yield category, " ".join(tokens[i:end])
        i = end


def _longest_term(tokens: tuple[str, ...], start: int,
                  vocabulary: ConditionVocabulary) -> tuple[int, str] | None:
    for n in range(min(vocabulary.max_term_tokens, len(tokens) - start), 0, -1):
        category = vocabulary.terms.get(tokens[start:start + n])
        if category is not None:
            return start + n, category
    return None


def _until_break(tokens: tuple[str, ...], vocabulary: ConditionVocabulary) -> tuple[str, ...]:
    for i, word in enumerate(tokens):
        if word in vocabulary.clause_breaks:
            return tokens[:i]
    return tokens


def _contains(tokens: tuple[str, ...], phrases: frozenset[tuple[str, ...]]) -> bool:
    if not tokens:  # most often nothing stands before or after a condition's name
        return False
    return any(tokens[i:i + len(p)] == p for p in phrases for i in range(len(tokens)))


def _categories(text: str, rules: ScreeningRules) -> list[tuple[str, str]]:
    categories = read_condition(text, rules.conditions)
    if _severe_egfr(text, rules):
        categories.append(("severe-renal", text))
    return categories


def _condition_findings(conditions: list[tuple[str, list[tuple[str, str]]]],
                        rules: ScreeningRules) -> Iterator[Finding]:
    for text, categories in conditions:
        seen: set[str] = set()
        for category, words in categories:
            for rule in rules.by_condition.get(category, ()):
                if rule.code not in seen:
                    seen.add(rule.code)
                    yield _finding(rule, text, words, {}, variant=category)


# Condition rules that already speak about opioid use: a condition read by one of them is not
# read again for an opioid's name ("methadone maintenance").
_OPIOID_CONDITION_RULES = frozenset({
    "active-opioid", "opioid-dependence-treatment", "opioid-dependence-history",
    "opioid-use-history", "opioid-test-positive", "opioid-use-suspected",
})


def _opioids_in_conditions(conditions: list[tuple[str, list[tuple[str, str]]]],
                           knowledge: ScreeningKnowledge) -> Iterator[Finding]:
    """A condition that names an opioid exactly ("back pain on tramadol"): taken now or in the
    past, the screen cannot tell, so a prescriber checks. An allergy names no use."""
    rules = knowledge.rules
    for text, categories in conditions:
        said = {rule.code for category, _ in categories
                for rule in rules.by_condition.get(category, ())}
        # Only an exact name counts, and every name starts with a word `longest_from` knows:
        # most conditions name no medicine and need not be read as one.
        if said & _OPIOID_CONDITION_RULES or knowledge.vocabulary.longest_from.keys().isdisjoint(
                tokenize(text)):
            continue
        try:
            rec = recognize(text, None, knowledge.vocabulary)
        except InputError:
            continue
        opioid = [c for c in rec.classes if c in rules.opioid_classes]
        if opioid and rec.method == EXACT and not rec.allergy:
            yield _finding(rules.rules["opioid-in-conditions"], text, rec.label(opioid[0]), {})


def _severe_egfr(text: str, rules: ScreeningRules) -> bool:
    lowered = text.lower()
    if "gfr" not in lowered and "crcl" not in lowered and "creatinine" not in lowered:
        return False  # none of the words `_EGFR` starts with: most conditions
    match = _EGFR.search(lowered)
    if match is None:
        return False
    value, below = float(match.group("value")), rules.egfr_severe_below
    return value <= below if match.group("op") else value < below


def _flag_findings(profile: Profile, conditions: list[tuple[str, list[tuple[str, str]]]],
                   rules: ScreeningRules) -> Iterator[Finding]:
    named = {category for _, found in conditions for category, _ in found}
    if profile.pregnant and "pregnancy" not in named:
        yield _finding(rules.rules["pregnancy"], "pregnant: true", None, {})
    if profile.breastfeeding and "breastfeeding" not in named:
        yield _finding(rules.rules["breastfeeding"], "breastfeeding: true", None, {})
    if profile.age is not None and profile.age < rules.adult_age:
        yield _paediatric(profile.age, profile.weight_kg, rules)


def _ldn_dose_findings(profile: Profile, knowledge: ScreeningKnowledge) -> Iterator[Finding]:
    """A dose above the usual ceiling is a prescriber's decision (a plan needs an override),
    unless a prescriber already approved it."""
    ldn = profile.ldn or LdnUse()
    dose, ceiling = ldn.dose_mg, knowledge.ceiling
    approved = ldn.approved_mg is not None and dose is not None and dose <= ldn.approved_mg
    if dose is not None and dose > ceiling.usual_mg and not approved:
        yield _finding(knowledge.rules.rules["ldn-dose-above-ceiling"], f"ldn.dose_mg: {dose:g}",
                       None, {"dose": f"{dose:g}", "usual_mg": f"{ceiling.usual_mg:g}",
                              "trial_max_mg": f"{ceiling.trial_max_mg:g}"})


def _paediatric(age: int, weight_kg: float | None, rules: ScreeningRules) -> Finding:
    rule = rules.rules["paediatric"]
    values: dict[str, Any] = {"age": age, "adult_age": rules.adult_age,
                              "mg_per_kg": rules.paediatric_mg_per_kg,
                              "max_mg": rules.paediatric_max_mg}
    if weight_kg is None:
        message = (rule.extra_messages or {})["message_without_weight"]
        return _finding(rule, f"age: {age}", None, values, message=message)
    ceiling = round(min(rules.paediatric_mg_per_kg * weight_kg, rules.paediatric_max_mg), 2)
    values.update(weight_kg=weight_kg, ceiling_mg=ceiling)
    return _finding(rule, f"age: {age}, weight_kg: {weight_kg:g}", f"{ceiling:g} mg a day",
                    values)


# --- perioperative -------------------------------------------------------------------------


def _perioperative(profile: Profile, knowledge: ScreeningKnowledge,
                   hold_hours: float | None,
                   zone: tzinfo | None) -> list[tuple[Procedure, HoldPlan]]:
    """A hold plan for every planned procedure with opioids expected, earliest first."""
    facts = knowledge.perioperative
    ldn = profile.ldn or LdnUse()
    dose_time = ldn.time or facts.default_dose_time
    last_taken = ldn.last_taken
    if last_taken is not None and not isinstance(last_taken, datetime):
        last_taken = datetime.combine(last_taken, dose_time)  # taken at the usual time
        last_taken = min(last_taken, profile.as_of)
    upcoming = sorted((p for p in profile.procedures
                       if p.opioids_expected and p.at >= profile.as_of), key=lambda p: p.at)
    hours = facts.default_hold_hours if hold_hours is None else hold_hours
    return [(p, plan_hold(surgery_at=p.at, dose_time=dose_time, hold_hours=hours,
                          as_of=profile.as_of, last_taken=last_taken, facts=facts,
                          dose_mg=ldn.dose_mg, zone=zone))
            for p in upcoming]


def _after_surgery_findings(profile: Profile, rules: ScreeningRules) -> Iterator[Finding]:
    """A procedure with opioids expected that took place less than the opioid-free interval
    ago: opioids may have been given, and when to restart is the clinician's decision."""
    days = rules.default_interval.days
    as_of = profile.as_of
    for procedure in profile.procedures:
        recent = procedure.at < as_of and as_of.date() < procedure.at.date() + timedelta(days)
        if procedure.opioids_expected and recent:
            trigger, name = _procedure_words(procedure)
            yield _finding(rules.rules["after-surgery-opioids"], trigger, None,
                           {"procedure": name,
                            "surgery_at": procedure.at.strftime("%Y-%m-%d %H:%M"),
                            "days": days})


def _procedure_words(procedure: Procedure) -> tuple[str, str]:
    """The finding's trigger ("knee replacement at 2025-06-04T08:00") and the procedure's
    name to start a sentence with."""
    name = procedure.name or "Surgery"
    trigger = f"{procedure.name or 'procedure'} at {procedure.at.isoformat(timespec='minutes')}"
    return trigger, name[:1].upper() + name[1:]


def _hold_finding(plan: HoldPlan, procedure: Procedure, rules: ScreeningRules, *,
                  taking: bool) -> Finding:
    """The hold before `procedure`; worded for someone who may not take LDN yet when the
    profile says nothing of LDN."""
    code = "perioperative-hold" if plan.can_meet_hold else "perioperative-hold-missed"
    trigger, name = _procedure_words(procedure)
    values = {"procedure": name,
              "surgery_at": readable(plan.surgery_at),
              "last_dose_by": readable(plan.last_dose_by),
              "hold_hours": f"{plan.hold_hours:g}"}
    return _finding(rules.rules[code], trigger, None, values,
                    variant=None if taking else "not-taking")
