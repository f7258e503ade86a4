"""Flags from a diary: what needs a clinician now, what needs attention, what is worth knowing.

One pure function, `monitor`, reads the recent check-ins (the window in monitoring.toml, so
the cost does not grow with the length of the diary), the titration plan and questionnaire
scores, and returns flags, most severe first:
- red flags (urgent): signs of hepatitis, opioid withdrawal, allergy, suicidal thoughts,
  severe pain needing opioids, from the side effects entered and from the free-text note;
- side effects against their expected course: linked to a dose change, lasting longer than
  usual, severe; sleep disturbed for more than 5–7 days → suggest morning dosing;
- worse after a step up → suggest stepping back;
- adherence (doses taken vs recorded, missed streaks), overdue check-ins, titration step due.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise

from lowdose.core.diary import CheckIn, PlannedDose, SideEffect
from lowdose.core.flags import Flag, most_severe_first
from lowdose.core.instruments import Score
from lowdose.errors import InputError
from lowdose.knowledge.evidence import (
    FreeText,
    RedFlag,
    SideEffectCourse,
    normalise,
    red_flag_vocabulary,
    red_flags_for,
    red_flags_in_note,
    side_effect_for,
    vocabulary,
)
from lowdose.knowledge.evidence import SideEffect as KnownEffect
from lowdose.knowledge.instruments import Instrument
from lowdose.knowledge.monitoring import Level, MonitoringRules


def monitor(
    checkins: Sequence[CheckIn],
    *,
    today: date,
    rules: MonitoringRules,
    course: SideEffectCourse,
    plan: Sequence[PlannedDose] = (),
    instruments: Mapping[str, Instrument] | None = None,
    scores: Sequence[Score] = (),
) -> list[Flag]:
    """Every flag for one patient on `today`, most severe first. `course` is the side-effect
    course of side_effects.toml: which effects LDN is known for and the red flags."""
    _check(checkins)
    since = today - timedelta(days=rules.window.lookback_days - 1)
    recent = sorted((c for c in checkins if since <= c.day <= today), key=lambda c: c.day)
    names = _Names(rules, course)
    runs = ongoing_effects(recent, names.run_key)
    changes = dose_changes(recent, plan, today)
    step_back = _step_back(recent, changes, instruments or {}, rules)
    red_flags = _red_flags(recent, today, rules, names)
    # A red flag means stop and call; going back a dose replaces going up one.
    hold = bool(red_flags or step_back)
    flags = [
        *red_flags,
        *_side_effects(recent, runs, changes, rules, names),
        *_sleep(recent, runs, rules, names),
        *step_back,
        *_adherence(recent, plan, today, rules),
        *_overdue(checkins, plan, today, rules),
        *([] if hold else _step_due(recent, plan, today, rules)),
        *_score_flags(scores, today, rules),
    ]
    return most_severe_first(flags)


def _check(checkins: Sequence[CheckIn]) -> None:
    seen: set[date] = set()
    for i, checkin in enumerate(checkins):
        if checkin.day in seen:
            raise InputError(f"checkins.{i}.date",
                             f"a second check-in for {checkin.day.isoformat()}")
        seen.add(checkin.day)
        for j, effect in enumerate(checkin.side_effects):
            if not effect.name.strip():
                raise InputError(f"checkins.{i}.side_effects.{j}.name", "is empty")
            if effect.severity not in (0, 1, 2, 3):
                raise InputError(f"checkins.{i}.side_effects.{j}.severity",
                                 "must be 0 (none) to 3 (severe)")


# ---------------------------------------------------------------------------- names and doses


_key = lru_cache(maxsize=4096)(normalise)


@lru_cache(maxsize=4096)
def _known(name: str, course: SideEffectCourse) -> KnownEffect | None:
    return side_effect_for(name, course)


@lru_cache(maxsize=4096)
def _red(name: str, course: SideEffectCourse) -> tuple[RedFlag, ...]:
    return red_flags_for(name, course)


@lru_cache(maxsize=4096)
def _signs(name: str, signs: tuple[tuple[str, ...], ...]) -> frozenset[str]:
    """The withdrawal signs an entry names, each by its first wording; plurals and
    misspellings count ("sweats", "vomitting")."""
    entry = FreeText(name, vocabulary(tuple(w for sign in signs for w in sign)))
    return frozenset(sign[0] for sign in signs if any(entry.contains(w) for w in sign))


class _Names:
    """What each recorded side-effect name refers to. Matching free text against every
    synonym is the costly part of monitoring, and a clinic's patients record the same few
    names, so results are memoised (per call, and across calls for the same course)."""

    def __init__(self, rules: MonitoringRules, course: SideEffectCourse) -> None:
        self.rules, self.course = rules, course
        self.red_flags_by_id = {red.id: red for red in course.red_flags}
        self._known: dict[str, KnownEffect | None] = {}
        self._red: dict[str, tuple[RedFlag, ...]] = {}
        self._signs: dict[str, frozenset[str]] = {}
        signs = rules.red_flags.withdrawal_cluster.signs
        self._red_words = red_flag_vocabulary(course)
        self._sign_words = vocabulary(tuple(w for sign in signs for w in sign))

    def known(self, name: str) -> KnownEffect | None:
        if name not in self._known:
            self._known[name] = _known(name, self.course)
        return self._known[name]

    def red_flags(self, name: str) -> tuple[RedFlag, ...]:
        if name not in self._red:
            self._red[name] = _red(name, self.course)
        return self._red[name]

    def withdrawal_signs(self, name: str) -> frozenset[str]:
        if name not in self._signs:
            self._signs[name] = _signs(name, self.rules.red_flags.withdrawal_cluster.signs)
        return self._signs[name]

    def in_note(self, note: str) -> tuple[tuple[tuple[RedFlag, str], ...], frozenset[str]]:
        """The red flags and withdrawal signs a note affirms. Not memoised across calls, so
        no patient's note outlives the call in a process-wide cache."""
        signs = self.rules.red_flags.withdrawal_cluster.signs
        text = FreeText(note, self._sign_words)
        return (red_flags_in_note(note, self.course, self._red_words),
                frozenset(s[0] for s in signs if any(text.affirms(w) for w in s)))

    def run_key(self, name: str) -> str:
        """One key for every wording of a listed effect ("nausea", "feeling sick")."""
        known = self.known(name)
        return _key(name) if known is None else f"listed:{known.id}"

    def is_sleep(self, name: str) -> bool:
        known = self.known(name)
        return known is not None and known.id in self.rules.side_effects.sleep_effects


@dataclass(frozen=True)
class DoseChange:
    day: date
    dose_mg: float
    previous_mg: float  # 0 when this is the start of LDN


def dose_changes(recent: Sequence[CheckIn], plan: Sequence[PlannedDose],
                 today: date) -> list[DoseChange]:
    """Dose changes in the window: the recorded doses when the patient records them (what was
    really taken), else the plan's steps. The plan's first step marks the start of LDN."""
    steps = sorted((p for p in plan if p.start <= today), key=lambda p: p.start)
    changes: list[DoseChange] = []
    if steps and (not recent or steps[0].start >= recent[0].day):
        changes.append(DoseChange(steps[0].start, steps[0].dose_mg, 0.0))
    taken = [(c.day, c.dose_mg) for c in recent if c.dose_mg is not None and c.dose_taken]
    if taken:
        changes.extend(DoseChange(day, dose, previous) for (_, previous), (day, dose)
                       in pairwise(taken) if dose != previous)
    else:
        changes.extend(DoseChange(b.start, b.dose_mg, a.dose_mg)
                       for a, b in pairwise(steps)
                       if recent and b.start >= recent[0].day)
    return sorted(changes, key=lambda c: c.day)


# -------------------------------------------------------------------------------- red flags


def _red_flags(recent: Sequence[CheckIn], today: date, rules: MonitoringRules,
               lookup: _Names) -> list[Flag]:
    cluster = rules.red_flags.withdrawal_cluster
    newest: dict[str, Flag] = {}
    for checkin in recent:
        if (today - checkin.day).days >= rules.window.recent_days:
            continue
        names = [e.name for e in checkin.present_effects()]
        entries: dict[str, list[str]] = {}
        for name in names:
            for red in lookup.red_flags(name):
                entries.setdefault(red.id, []).append(name)
        # The note is free text: read too, as people write what worries them there.
        in_note, note_signs = lookup.in_note(checkin.note) if checkin.note else ((), frozenset())
        for red, phrase in in_note:
            entries.setdefault(red.id, []).append(f"“{phrase}” in the note")
        signs = [n for n in names if lookup.withdrawal_signs(n)]
        if note_signs:
            signs.append("the note")
        if len(note_signs.union(*map(lookup.withdrawal_signs, names))) >= cluster.min_signs:
            entries.setdefault(cluster.red_flag, []).extend(signs)
        for red_id, found in entries.items():
            red = lookup.red_flags_by_id[red_id]
            reason = rules.red_flags.reason.format(name=red.name, entries=_join(found),
                                                   action=red.action)
            sources = tuple(dict.fromkeys((*red.sources, *(
                cluster.sources if red_id == cluster.red_flag else ()))))
            newest[red_id] = Flag(f"red-flag-{red_id}", "urgent", reason, sources, checkin.day)
    return list(newest.values())


# ----------------------------------------------------------------------------- side effects


@dataclass(frozen=True)
class EffectRun:
    """A side effect recorded at every check-in from `first` to `last` (still present)."""

    name: str
    first: date
    last: date
    last_severity: int

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def ongoing_effects(recent: Sequence[CheckIn],
                    same: Callable[[str], str] = _key) -> list[EffectRun]:
    """Side effects present at the latest check-in, with the day each run began. A check-in
    without the effect ends its run; a day without any check-in does not (nothing known).
    Names that `same` maps to one key are one effect."""
    runs: dict[str, EffectRun] = {}
    for checkin in recent:
        present: dict[str, SideEffect] = {same(e.name): e for e in checkin.present_effects()}
        runs = {key: run for key, run in runs.items() if key in present}
        for key, effect in present.items():
            first = runs[key].first if key in runs else checkin.day
            runs[key] = EffectRun(effect.name, first, checkin.day, effect.severity)
    return sorted(runs.values(), key=lambda r: (r.first, r.name))


def _side_effects(recent: Sequence[CheckIn], runs: Sequence[EffectRun],
                  changes: Sequence[DoseChange], rules: MonitoringRules,
                  lookup: _Names) -> list[Flag]:
    side = rules.side_effects
    evening = _doses_in_evening(recent, rules)
    flags = []
    for run in runs:
        known = lookup.known(run.name)
        sleep = known is not None and known.id in side.sleep_effects
        sources = known.sources if known else side.sources
        expected = rules.sleep.more_than_days if sleep else side.expected_days
        change = _change_before(run.first, changes, side.onset_window_days)
        after = "" if change is None else side.after_change.format(
            days_after=(run.first - change.day).days, dose=f"{change.dose_mg:g}",
            changed=change.day.isoformat())
        fields = {"name": run.name.capitalize(), "since": run.first.isoformat(),
                  "after_change": after, "expected_days": expected, "days": run.days}
        if run.last_severity >= 3:
            flags.append(Flag("side-effect-severe", "attention",
                              side.severe_reason.format(**fields, day=run.last.isoformat()),
                              sources, run.last))
        if known is not None and run.days > expected:
            # A listed effect outlasting its course needs attention even when the diary does
            # not show the dose change it followed (the start may be older than the window).
            # Evening sleep trouble gets the more specific morning-dosing suggestion instead.
            if not (sleep and evening):
                flags.append(Flag("side-effect-persisting", "attention",
                                  side.persisting_reason.format(**fields), sources, run.last))
        elif known is None or change is None:
            flags.append(Flag("side-effect-unlinked", "info",
                              side.unlinked_reason.format(**fields), sources, run.last))
        else:
            flags.append(Flag("side-effect-expected", "info",
                              side.expected_reason.format(**fields), sources, run.last))
    return flags


def _change_before(first: date, changes: Sequence[DoseChange], window: int) -> DoseChange | None:
    linked = [c for c in changes if c.day <= first and (first - c.day).days <= window]
    return linked[-1] if linked else None


def _doses_in_evening(recent: Sequence[CheckIn], rules: MonitoringRules) -> bool:
    """Whether the latest recorded dose time is in the evening; bedtime (the usual timing) is
    assumed when no time is recorded."""
    times = [c.dose_time for c in recent if c.dose_time is not None]
    return not times or not rules.sleep.morning_from <= times[-1] < rules.sleep.morning_before


def _sleep(recent: Sequence[CheckIn], runs: Sequence[EffectRun], rules: MonitoringRules,
           lookup: _Names) -> list[Flag]:
    sleep_runs = [r for r in runs if lookup.is_sleep(r.name)]
    if not sleep_runs or not _doses_in_evening(recent, rules):
        return []
    # Different sleep complaints on successive days still make one disturbed stretch.
    first = _sleep_stretch_start(recent, lookup)
    last = recent[-1].day
    days = (last - first).days + 1
    if days <= rules.sleep.more_than_days:
        return []
    names = _join(sorted({r.name.casefold() for r in sleep_runs}))
    return [Flag("sleep-suggest-morning", "attention",
                 rules.sleep.reason.format(names=names, days=days), rules.sleep.sources, last)]


def _sleep_stretch_start(recent: Sequence[CheckIn], lookup: _Names) -> date:
    first = recent[-1].day
    for checkin in reversed(recent):
        if not any(lookup.is_sleep(e.name) for e in checkin.present_effects()):
            break
        first = checkin.day
    return first


# --------------------------------------------------------------------------------- step back


def _step_back(recent: Sequence[CheckIn], changes: Sequence[DoseChange],
               instruments: Mapping[str, Instrument], rules: MonitoringRules) -> list[Flag]:
    rule = rules.step_back
    ups = [c for c in changes if c.previous_mg > 0 and c.dose_mg > c.previous_mg]
    if not ups or any(c.day > ups[-1].day for c in changes):
        return []  # no increase, or the dose has changed again since (e.g. stepped back)
    up, window = ups[-1], timedelta(days=rule.window_days)
    before = [c for c in recent if up.day - window <= c.day < up.day]
    after = [c for c in recent if up.day <= c.day < up.day + window]
    if min(len(before), len(after)) < rule.min_days:
        return []
    worse = []
    burden_before, burden_after = _mean_burden(before), _mean_burden(after)
    if burden_after - burden_before >= rule.side_effect_increase:
        worse.append(rule.side_effects_worse.format(before=f"{burden_before:.1f}",
                                                    after=f"{burden_after:.1f}"))
    worse.extend(_worse_ratings(before, after, instruments, rule.rating_worse))
    if not worse:
        return []
    reason = rule.reason.format(dose=f"{up.dose_mg:g}", since=up.day.isoformat(),
                                what="; ".join(worse), previous=f"{up.previous_mg:g}")
    return [Flag("worse-after-step-up", "attention", reason, rule.sources, after[-1].day)]


def _mean_burden(checkins: Sequence[CheckIn]) -> float:
    """Mean over days of the summed side-effect severities (0–3 each)."""
    return sum(e.severity for c in checkins for e in c.present_effects()) / len(checkins)


def _worse_ratings(before: Sequence[CheckIn], after: Sequence[CheckIn],
                   instruments: Mapping[str, Instrument], template: str) -> list[str]:
    worse = []
    for measure, instrument in sorted(instruments.items()):
        if instrument.mid is None:
            continue
        pre = [c.ratings[measure] for c in before if measure in c.ratings]
        post = [c.ratings[measure] for c in after if measure in c.ratings]
        if not pre or not post:
            continue
        mean_pre, mean_post = sum(pre) / len(pre), sum(post) / len(post)
        sign = 1.0 if instrument.direction == "higher-is-better" else -1.0
        if sign * (mean_post - mean_pre) <= -instrument.mid.points:
            worse.append(template.format(measure=measure, before=f"{mean_pre:.1f}",
                                         after=f"{mean_post:.1f}"))
    return worse


# ---------------------------------------------------------------- adherence and check-ins


def _adherence(recent: Sequence[CheckIn], plan: Sequence[PlannedDose], today: date,
               rules: MonitoringRules) -> list[Flag]:
    rule = rules.adherence
    first = today - timedelta(days=rule.window_days - 1)
    if plan:
        first = max(first, min(p.start for p in plan))
    window = [c for c in recent if c.day >= first and c.dose_taken is not None]
    flags = []
    taken = sum(1 for c in window if c.dose_taken)
    if len(window) >= rule.min_recorded_days and taken / len(window) < rule.attention_below:
        reason = rule.low_reason.format(taken=taken, recorded=len(window),
                                        window=rule.window_days,
                                        percent=round(100 * taken / len(window)))
        flags.append(Flag("adherence-low", "attention", reason, rule.sources, today))
    streak = _latest_missed_streak(window)
    if streak and len(streak) >= rule.missed_streak_days:
        reason = rule.streak_reason.format(days=len(streak), first=streak[0].isoformat(),
                                           last=streak[-1].isoformat())
        flags.append(Flag("missed-doses", "attention", reason, rule.sources, streak[-1]))
    return flags


def _latest_missed_streak(window: Sequence[CheckIn]) -> list[date]:
    """The most recent run of consecutive calendar days recorded as missed."""
    streak: list[date] = []
    best: list[date] = []
    for checkin in window:
        if checkin.dose_taken is False:
            consecutive = streak and (checkin.day - streak[-1]).days == 1
            streak = [*streak, checkin.day] if consecutive else [checkin.day]
            best = streak
        else:
            streak = []
    return best


def _overdue(checkins: Sequence[CheckIn], plan: Sequence[PlannedDose], today: date,
             rules: MonitoringRules) -> list[Flag]:
    rule = rules.checkins
    days = [c.day for c in checkins if c.day <= today]
    started = [p.start for p in plan if p.start <= today]
    if not days:
        # Without any check-in, the days missing count from the plan's first day (one that
        # starts today misses nothing yet), and are at most the look-back window.
        gap = rules.window.lookback_days
        if started:
            gap = min(gap, (today - min(started)).days + 1)
        level = _overdue_level(gap, rules)
        if level is None:
            return []
        return [Flag("checkin-overdue", level, rule.none_reason.format(days=gap),
                     rule.sources, today)]
    last = max(days)
    gap = (today - last).days
    level = _overdue_level(gap, rules)
    if level is None:
        return []
    reason = rule.reason.format(days=gap, last=last.isoformat())
    return [Flag("checkin-overdue", level, reason, rule.sources, today)]


def _overdue_level(gap: int, rules: MonitoringRules) -> Level | None:
    if gap < rules.checkins.info_after_days:
        return None
    return "attention" if gap >= rules.checkins.attention_after_days else "info"


def _step_due(recent: Sequence[CheckIn], plan: Sequence[PlannedDose], today: date,
              rules: MonitoringRules) -> list[Flag]:
    rule = rules.titration
    current = max((p for p in plan if p.start <= today), key=lambda p: p.start, default=None)
    if current is None:
        return []
    doses = [c for c in recent if c.dose_mg is not None and c.dose_taken]
    last_dose = doses[-1].dose_mg if doses else None
    if last_dose is not None and last_dose >= current.dose_mg:
        return []
    if last_dose is None:
        if current.start != today:
            return []
        reason = rule.today_reason.format(dose=f"{current.dose_mg:g}")
    else:
        reason = rule.due_reason.format(dose=f"{current.dose_mg:g}",
                                        since=current.start.isoformat(),
                                        current=f"{last_dose:g}")
        if recent and recent[-1].present_effects():
            reason += rule.hold_reason
    return [Flag("titration-step-due", "info", reason, rule.sources, today)]


def _score_flags(scores: Sequence[Score], today: date, rules: MonitoringRules) -> list[Flag]:
    recent_from = today - timedelta(days=rules.window.recent_days - 1)
    return [flag for s in scores if recent_from <= s.day <= today for flag in s.flags]


# ------------------------------------------------------------------------------------ text


def _join(names: Sequence[str]) -> str:
    unique = list(dict.fromkeys(names))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " and " + unique[-1]

