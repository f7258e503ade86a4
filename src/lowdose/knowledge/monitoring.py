"""Typed loader for `knowledge/data/monitoring.toml`: the parameters and texts of the
monitoring flags, the outcome analysis and planned n-of-1 comparisons, with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from functools import cache
from typing import Any, Literal

from lowdose.knowledge.sources import read_toml

Level = Literal["urgent", "attention", "info"]
LEVELS: tuple[Level, ...] = ("urgent", "attention", "info")  # most severe first


@dataclass(frozen=True)
class Window:
    lookback_days: int
    recent_days: int


@dataclass(frozen=True)
class Onset:
    days: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class AnalysisRules:
    min_baseline_days: int
    min_treatment_days: int
    interval: float


@dataclass(frozen=True)
class SideEffectRules:
    onset_window_days: int
    expected_days: int
    sleep_effects: tuple[str, ...]  # side_effects.toml ids that disturb sleep
    sources: tuple[str, ...]
    expected_reason: str
    persisting_reason: str
    unlinked_reason: str
    severe_reason: str
    after_change: str


@dataclass(frozen=True)
class SleepRule:
    more_than_days: int
    morning_from: time
    morning_before: time
    sources: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class StepBackRule:
    window_days: int
    min_days: int
    side_effect_increase: float
    sources: tuple[str, ...]
    reason: str
    side_effects_worse: str
    rating_worse: str


@dataclass(frozen=True)
class WithdrawalCluster:
    """Several different withdrawal signs on one day raise the `red_flag` of side_effects.toml."""

    red_flag: str
    signs: tuple[tuple[str, ...], ...]  # each sign: its wordings, the first names it
    min_signs: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class RedFlagRules:
    reason: str  # template: {name}, {entries}, {action} from side_effects.toml
    withdrawal_cluster: WithdrawalCluster


@dataclass(frozen=True)
class AdherenceRule:
    window_days: int
    min_recorded_days: int
    attention_below: float
    missed_streak_days: int
    sources: tuple[str, ...]
    low_reason: str
    streak_reason: str


@dataclass(frozen=True)
class CheckinRule:
    info_after_days: int
    attention_after_days: int
    sources: tuple[str, ...]
    reason: str
    none_reason: str


@dataclass(frozen=True)
class TitrationRule:
    sources: tuple[str, ...]
    due_reason: str
    hold_reason: str
    today_reason: str


@dataclass(frozen=True)
class NofOneDefaults:
    period_days: int
    run_in_days: int
    blocks: int
    min_days_per_arm: int
    sources: tuple[str, ...]


@dataclass(frozen=True)
class MonitoringRules:
    window: Window
    onset: Onset
    analysis: AnalysisRules
    side_effects: SideEffectRules
    sleep: SleepRule
    step_back: StepBackRule
    red_flags: RedFlagRules
    adherence: AdherenceRule
    checkins: CheckinRule
    titration: TitrationRule
    nof1: NofOneDefaults

    def cited(self) -> tuple[str, ...]:
        """Every source id the rules cite, first mention first."""
        groups = [self.onset.sources, self.side_effects.sources, self.sleep.sources,
                  self.step_back.sources, self.red_flags.withdrawal_cluster.sources,
                  self.adherence.sources, self.checkins.sources, self.titration.sources,
                  self.nof1.sources]
        return tuple(dict.fromkeys(s for group in groups for s in group))


@cache
def load_monitoring_rules() -> MonitoringRules:
    return parse_monitoring_rules(read_toml("monitoring.toml"))


def parse_monitoring_rules(data: dict[str, Any]) -> MonitoringRules:
    side, sleep, step = data["side_effects"], data["sleep"], data["step_back"]
    red = data["red_flags"]
    cluster = red["withdrawal_cluster"]
    adherence, checkins, titration, nof1 = (data["adherence"], data["checkins"],
                                            data["titration"], data["nof1"])
    return MonitoringRules(
        window=Window(int(data["window"]["lookback_days"]), int(data["window"]["recent_days"])),
        onset=Onset(int(data["onset"]["days"]), _sources(data["onset"])),
        analysis=AnalysisRules(
            min_baseline_days=int(data["analysis"]["min_baseline_days"]),
            min_treatment_days=int(data["analysis"]["min_treatment_days"]),
            interval=float(data["analysis"]["interval"]),
        ),
        side_effects=SideEffectRules(
            onset_window_days=int(side["onset_window_days"]),
            expected_days=int(side["expected_days"]),
            sleep_effects=tuple(str(s) for s in side["sleep_effects"]),
            sources=_sources(side),
            expected_reason=str(side["expected_reason"]),
            persisting_reason=str(side["persisting_reason"]),
            unlinked_reason=str(side["unlinked_reason"]),
            severe_reason=str(side["severe_reason"]),
            after_change=str(side["after_change"]),
        ),
        sleep=SleepRule(int(sleep["more_than_days"]), time.fromisoformat(sleep["morning_from"]),
                        time.fromisoformat(sleep["morning_before"]), _sources(sleep),
                        str(sleep["reason"])),
        step_back=StepBackRule(
            window_days=int(step["window_days"]), min_days=int(step["min_days"]),
            side_effect_increase=float(step["side_effect_increase"]), sources=_sources(step),
            reason=str(step["reason"]), side_effects_worse=str(step["side_effects_worse"]),
            rating_worse=str(step["rating_worse"]),
        ),
        red_flags=RedFlagRules(str(red["reason"]), WithdrawalCluster(
            red_flag=str(cluster["red_flag"]), signs=tuple(_wordings(s) for s in cluster["signs"]),
            min_signs=int(cluster["min_signs"]), sources=_sources(cluster))),
        adherence=AdherenceRule(
            window_days=int(adherence["window_days"]),
            min_recorded_days=int(adherence["min_recorded_days"]),
            attention_below=float(adherence["attention_below"]),
            missed_streak_days=int(adherence["missed_streak_days"]),
            sources=_sources(adherence), low_reason=str(adherence["low_reason"]),
            streak_reason=str(adherence["streak_reason"]),
        ),
        checkins=CheckinRule(int(checkins["info_after_days"]),
                             int(checkins["attention_after_days"]), _sources(checkins),
                             str(checkins["reason"]), str(checkins["none_reason"])),
        titration=TitrationRule(_sources(titration), str(titration["due_reason"]),
                                str(titration["hold_reason"]), str(titration["today_reason"])),
        nof1=NofOneDefaults(int(nof1["period_days"]), int(nof1["run_in_days"]),
                            int(nof1["blocks"]), int(nof1["min_days_per_arm"]), _sources(nof1)),
    )


def _wordings(sign: Any) -> tuple[str, ...]:
    """A withdrawal sign: one phrase, or a list of the ways people write it."""
    return (str(sign),) if isinstance(sign, str) else tuple(str(w) for w in sign)


def _sources(table: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(s) for s in table.get("sources", ()))
