"""Questionnaires and daily ratings as data: items, answers, scoring range, bands, codes, MID.

Built-in instruments live in `knowledge/data/instruments/*.toml`, one file per instrument. A
clinic adds its own licensed instrument by dropping a file of the same shape into a directory
and passing that directory to `load_instruments`; no code changes.

Scoring is the sum of the item answers (a 0–10 rating is a one-item instrument).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from lowdose.errors import InputError
from lowdose.knowledge.monitoring import LEVELS, Level

Direction = Literal["lower-is-better", "higher-is-better"]
DIRECTIONS: tuple[Direction, ...] = ("lower-is-better", "higher-is-better")
# Symbolic code systems; the FHIR exporter maps them to URIs. LOINC only where it is confirmed.
CODE_SYSTEMS = ("loinc", "lowdose")

_TOP_KEYS = {"id", "name", "kind", "direction", "instructions", "licence", "sources", "code",
             "options", "items", "bands", "alerts", "mid"}


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class Option:
    value: int
    label: str
    code: str | None = None  # LOINC answer code (LA…) where one exists


@dataclass(frozen=True)
class Item:
    """One question. With `options` only those values count; otherwise any whole number in
    [minimum, maximum] (no maximum: a count such as liquid stools a day)."""

    id: str
    text: str
    options: tuple[Option, ...] = ()
    minimum: int = 0
    maximum: int | None = None
    low_label: str = ""
    high_label: str = ""
    assessed_by: Literal["patient", "clinician"] = "patient"

    def allows(self, value: int) -> bool:
        if self.options:
            return any(option.value == value for option in self.options)
        return value >= self.minimum and (self.maximum is None or value <= self.maximum)

    def describe_allowed(self) -> str:
        if self.options:
            return "one of " + ", ".join(str(option.value) for option in self.options)
        if self.maximum is None:
            return f"a whole number ≥ {self.minimum}"
        return f"a whole number from {self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class Band:
    """A score range with a name; a band with a `level` raises a flag (e.g. severe)."""

    label: str
    minimum: float
    maximum: float | None = None
    level: Level | None = None
    reason: str = ""  # template: {score}
    sources: tuple[str, ...] = ()

    def contains(self, score: float) -> bool:
        return score >= self.minimum and (self.maximum is None or score <= self.maximum)


@dataclass(frozen=True)
class ItemAlert:
    """A flag raised by one answer whatever the total (PHQ-9 item 9)."""

    item: str
    above: int
    code: str
    level: Level
    reason: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class MinimalImportantDifference:
    """The smallest change patients notice, in score points. `basis` says whether it was
    measured for this instrument or borrowed from another (then only a rough guide)."""

    points: float
    basis: Literal["measured", "borrowed"]
    note: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Instrument:
    id: str
    name: str
    kind: Literal["rating", "questionnaire"]
    direction: Direction
    instructions: str
    licence: str
    code: Coding
    items: tuple[Item, ...]
    sources: tuple[str, ...]
    bands: tuple[Band, ...] = ()
    alerts: tuple[ItemAlert, ...] = ()
    mid: MinimalImportantDifference | None = None
    origin: str = ""  # the file it came from, for messages

    # Cached: every observation of a long diary is checked against them.
    @cached_property
    def minimum(self) -> int:
        return sum(_item_min(item) for item in self.items)

    @cached_property
    def maximum(self) -> int | None:
        highs = [_item_max(item) for item in self.items]
        return None if any(high is None for high in highs) else sum(cast(list[int], highs))

    def total_problem(self, value: float) -> str | None:
        """Why `value` cannot be a total of this instrument, or None if it can. A rating may
        be fractional (an average); a questionnaire's total is a sum of whole answers."""
        high = self.maximum
        if value < self.minimum or (high is not None and value > high):
            top = "" if high is None else f" to {high}"
            return f"{value:g} is outside the {self.id} range {self.minimum}{top}"
        if self.kind == "questionnaire" and not float(value).is_integer():
            return f"{value:g} is not a possible {self.id} total (a sum of whole-number answers)"
        return None

    def band_for(self, score: float) -> Band | None:
        return next((band for band in self.bands if band.contains(score)), None)

    def cited(self) -> tuple[str, ...]:
        """Every source id the instrument cites, first mention first."""
        ids = [*self.sources, *(s for b in self.bands for s in b.sources),
               *(s for a in self.alerts for s in a.sources),
               *(self.mid.sources if self.mid else ())]
        return tuple(dict.fromkeys(ids))


def _item_min(item: Item) -> int:
    return min(o.value for o in item.options) if item.options else item.minimum


def _item_max(item: Item) -> int | None:
    return max(o.value for o in item.options) if item.options else item.maximum


def load_instruments(extra_dirs: Iterable[Path] = ()) -> dict[str, Instrument]:
    """The built-in instruments plus every `*.toml` in `extra_dirs` (a clinic's own), by id.

    An extra file may not reuse an id already loaded: replacing a validated instrument by
    accident would silently change scores.
    """
    instruments = dict(_builtin())
    for directory in extra_dirs:
        if not directory.is_dir():
            raise InputError(str(directory), "is not a directory of instrument files")
        for path in sorted(directory.glob("*.toml")):
            _add(instruments, parse_instrument(_read_toml(path), origin=str(path)))
    return instruments


@cache
def _builtin() -> dict[str, Instrument]:
    folder = resources.files("lowdose.knowledge").joinpath("data", "instruments")
    instruments: dict[str, Instrument] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text("utf-8"))
            _add(instruments, parse_instrument(data, origin=f"instruments/{entry.name}"))
    return instruments


def _add(instruments: dict[str, Instrument], instrument: Instrument) -> None:
    if instrument.id in instruments:
        first = instruments[instrument.id].origin
        raise InputError(f"{instrument.origin}: id",
                         f"instrument '{instrument.id}' is already defined by {first}")
    instruments[instrument.id] = instrument


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise InputError(str(path), f"is not valid TOML: {error}") from error


def parse_instrument(data: Mapping[str, Any], *, origin: str) -> Instrument:
    """Build an instrument from one file's tables; every problem names the file and key."""
    reader = _Reader(origin)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise reader.error(unknown[0], "is not a known key")
    shared = tuple(reader.option(o, f"options.{i}") for i, o in
                   enumerate(reader.list_of_tables(data, "options")))
    items = tuple(reader.item(t, f"items.{i}", shared) for i, t in
                  enumerate(reader.list_of_tables(data, "items", required=True)))
    instrument = Instrument(
        id=reader.text(data, "id"),
        name=reader.text(data, "name"),
        kind=reader.choice(data, "kind", ("rating", "questionnaire")),
        direction=reader.choice(data, "direction", DIRECTIONS),
        instructions=reader.text(data, "instructions", ""),
        licence=reader.text(data, "licence"),
        code=reader.coding(reader.table(data, "code"), "code"),
        items=items,
        sources=reader.sources(data, "sources", required=True),
        bands=tuple(reader.band(t, f"bands.{i}") for i, t in
                    enumerate(reader.list_of_tables(data, "bands"))),
        alerts=tuple(reader.alert(t, f"alerts.{i}") for i, t in
                     enumerate(reader.list_of_tables(data, "alerts"))),
        mid=reader.mid(data["mid"], "mid") if "mid" in data else None,
        origin=origin,
    )
    _check_consistency(instrument, reader)
    return instrument


def _check_consistency(instrument: Instrument, reader: _Reader) -> None:
    ids = [item.id for item in instrument.items]
    if len(set(ids)) != len(ids):
        raise reader.error("items", "item ids must be unique")
    for i, alert in enumerate(instrument.alerts):
        if alert.item not in ids:
            raise reader.error(f"alerts.{i}.item", f"'{alert.item}' is not an item")
    for i, band in enumerate(instrument.bands):
        if band.maximum is not None and band.maximum < band.minimum:
            raise reader.error(f"bands.{i}", "maximum is below minimum")


class _Reader:
    """Typed access to one file's tables, raising InputError("<file>: <key>", …)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def error(self, key: str, message: str) -> InputError:
        return InputError(f"{self.origin}: {key}", message)

    def text(self, table: Mapping[str, Any], key: str, default: str | None = None,
             where: str = "") -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.error(where + key, "must be a non-empty text")
        return value

    def number(self, table: Mapping[str, Any], key: str, where: str = "") -> float:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(where + key, "must be a number")
        return float(value)

    def integer(self, table: Mapping[str, Any], key: str, where: str = "") -> int:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(where + key, "must be a whole number")
        return value

    def choice(self, table: Mapping[str, Any], key: str, allowed: tuple[Any, ...],
               where: str = "") -> Any:
        value = table.get(key)
        if value not in allowed:
            raise self.error(where + key, "must be one of " + ", ".join(map(str, allowed)))
        return value

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return value

    def list_of_tables(self, data: Mapping[str, Any], key: str,
                       required: bool = False) -> list[Mapping[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, "must be a list of tables")
        if required and not value:
            raise self.error(key, "needs at least one entry")
        return value

    def sources(self, table: Mapping[str, Any], key: str, where: str = "",
                required: bool = False) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(where + key, "must be a list of source ids")
        if required and not value:
            raise self.error(where + key, "must cite at least one source id")
        return tuple(value)

    def only(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.error(where + "." + unknown[0], "is not a known key")

    def coding(self, table: Mapping[str, Any], where: str) -> Coding:
        self.only(table, {"system", "code", "display"}, where)
        return Coding(system=self.choice(table, "system", CODE_SYSTEMS, where + "."),
                      code=self.text(table, "code", where=where + "."),
                      display=self.text(table, "display", where=where + "."))

    def option(self, table: Mapping[str, Any], where: str) -> Option:
        self.only(table, {"value", "label", "code"}, where)
        code = table.get("code")
        if code is not None and not isinstance(code, str):
            raise self.error(where + ".code", "must be a text")
        return Option(value=self.integer(table, "value", where + "."),
                      label=self.text(table, "label", where=where + "."), code=code)

    def item(self, table: Mapping[str, Any], where: str, shared: tuple[Option, ...]) -> Item:
        self.only(table, {"id", "text", "options", "minimum", "maximum", "low_label",
                          "high_label", "assessed_by"}, where)
        options = tuple(self.option(o, f"{where}.options.{i}") for i, o in
                        enumerate(self.list_of_tables(table, "options"))) or shared
        if not options and "maximum" not in table and "minimum" not in table:
            raise self.error(where, "needs options, or a minimum (and maybe a maximum)")
        maximum = self.integer(table, "maximum", where + ".") if "maximum" in table else None
        minimum = self.integer(table, "minimum", where + ".") if "minimum" in table else 0
        if maximum is not None and maximum < minimum:
            raise self.error(where + ".maximum", "is below minimum")
        return Item(
            id=self.text(table, "id", where=where + "."),
            text=self.text(table, "text", where=where + "."),
            options=options, minimum=minimum, maximum=maximum,
            low_label=self.text(table, "low_label", "", where + "."),
            high_label=self.text(table, "high_label", "", where + "."),
            assessed_by=self.choice(table, "assessed_by", ("patient", "clinician"), where + ".")
            if "assessed_by" in table else "patient",
        )

    def band(self, table: Mapping[str, Any], where: str) -> Band:
        self.only(table, {"label", "minimum", "maximum", "level", "reason", "sources"}, where)
        level = self.choice(table, "level", LEVELS, where + ".") if "level" in table else None
        if level is not None and not table.get("reason"):
            raise self.error(where + ".reason", "a band that raises a flag needs a reason")
        return Band(
            label=self.text(table, "label", where=where + "."),
            minimum=self.number(table, "minimum", where + "."),
            maximum=self.number(table, "maximum", where + ".") if "maximum" in table else None,
            level=level,
            reason=self.text(table, "reason", "", where + "."),
            sources=self.sources(table, "sources", where + ".", required=level is not None),
        )

    def alert(self, table: Mapping[str, Any], where: str) -> ItemAlert:
        self.only(table, {"item", "above", "code", "level", "reason", "sources"}, where)
        return ItemAlert(
            item=self.text(table, "item", where=where + "."),
            above=self.integer(table, "above", where + "."),
            code=self.text(table, "code", where=where + "."),
            level=self.choice(table, "level", LEVELS, where + "."),
            reason=self.text(table, "reason", where=where + "."),
            sources=self.sources(table, "sources", where + ".", required=True),
        )

    def mid(self, table: Any, where: str) -> MinimalImportantDifference:
        if not isinstance(table, dict):
            raise self.error(where, "must be a table")
        self.only(table, {"points", "basis", "note", "sources"}, where)
        points = self.number(table, "points", where + ".")
        if points <= 0:
            raise self.error(where + ".points", "must be above 0")
        return MinimalImportantDifference(
            points=points,
            basis=self.choice(table, "basis", ("measured", "borrowed"), where + "."),
            note=self.text(table, "note", where=where + "."),
            sources=self.sources(table, "sources", where + ".", required=True),
        )
