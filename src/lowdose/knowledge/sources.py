"""The sources every fact cites, and the check that every cited id exists.

`knowledge/data/sources.toml` holds one table per source. Every other data file cites sources by
id in lists under keys named `sources` (or ending in `_sources`, e.g. `filler_sources`).
`check_citations()` walks every `*.toml` and `*.json` file in the data folder and its subfolders
and returns the citations whose id is not defined, so a typo in a fact file fails a test
instead of shipping.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from lowdose.errors import InputError

SOURCES_FILE = "sources.toml"
KINDS = frozenset({
    "label", "rct", "review", "registry", "guideline", "web", "dataset", "terminology",
    "observational", "case-report", "pk-study", "lab-study", "book", "instrument",
})
# As clinical-facts.md marks facts: seen in the source / only in a secondary summary / unverified.
STATUSES = {"V": "verified", "S": "secondary", "U": "unverified"}
LOCATORS = ("url", "doi", "pmid", "pmcid", "nct")


@dataclass(frozen=True)
class Source:
    id: str
    citation: str
    kind: str
    status: str
    note: str
    url: str | None = None
    doi: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    nct: str | None = None

    @property
    def link(self) -> str:
        """The best address to open: the URL, else one built from DOI, PMID or NCT."""
        if self.url:
            return self.url
        if self.doi:
            return f"https://doi.org/{self.doi}"
        if self.pmid:
            return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"
        if self.pmcid:
            return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{self.pmcid}/"
        return f"https://clinicaltrials.gov/study/{self.nct}"

    def to_dict(self) -> dict[str, Any]:
        located = {key: getattr(self, key) for key in LOCATORS if getattr(self, key)}
        return {"id": self.id, "citation": self.citation, "kind": self.kind,
                "status": self.status, **located, "link": self.link, "note": self.note}


@dataclass(frozen=True)
class Sources:
    """All sources, in file order, looked up by id."""

    items: tuple[Source, ...]
    # An index derived from `items`, so it is left out of equality, hashing and repr.
    by_id: dict[str, Source] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {s.id: s for s in self.items})

    def get(self, source_id: str) -> Source | None:
        return self.by_id.get(source_id)

    def __contains__(self, source_id: object) -> bool:
        return isinstance(source_id, str) and self.get(source_id) is not None

    def __iter__(self) -> Iterator[Source]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {"sources": [s.to_dict() for s in self.items]}


@dataclass(frozen=True)
class Citation:
    """One cited source id: the data file, the dotted key path of the list, and the id."""

    file: str
    path: str
    source_id: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "path": self.path, "source_id": self.source_id}


def data_dir() -> Traversable:
    return resources.files("lowdose.knowledge").joinpath("data")


def read_toml(name: str) -> dict[str, Any]:
    """One TOML file of the shipped knowledge data, by its name under `data/`."""
    return tomllib.loads(data_dir().joinpath(name).read_text("utf-8"))


@cache
def load_sources() -> Sources:
    return parse_sources(read_toml(SOURCES_FILE))


def parse_sources(data: Mapping[str, Any]) -> Sources:
    """Build `Sources` from the parsed TOML, naming the field of the first problem found."""
    tables = data.get("sources")
    if not isinstance(tables, dict) or not tables:
        raise InputError("sources", "expected one [sources.<id>] table per source")
    return Sources(tuple(_source(sid, table) for sid, table in tables.items()))


def _text(table: Mapping[str, Any], key: str, field: str, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{field}.{key}", "must be a non-empty string")
    return value


def _source(source_id: str, table: Any) -> Source:
    field = f"sources.{source_id}"
    if not isinstance(table, dict):
        raise InputError(field, "must be a table")
    unknown = set(table) - {"citation", "kind", "status", "note", *LOCATORS}
    if unknown:
        raise InputError(f"{field}.{sorted(unknown)[0]}", "is not a known source field")
    located = {key: _text(table, key, field, required=False) for key in LOCATORS}
    if not any(located.values()):
        raise InputError(field, f"needs at least one of {', '.join(LOCATORS)}")
    kind, status = _text(table, "kind", field), _text(table, "status", field)
    if kind not in KINDS:
        raise InputError(f"{field}.kind", f"must be one of {', '.join(sorted(KINDS))}")
    if status not in STATUSES:
        raise InputError(f"{field}.status", "must be V (verified), S (secondary) or U (unverified)")
    return Source(
        id=source_id,
        citation=str(_text(table, "citation", field)),
        kind=kind,
        status=status,
        note=str(_text(table, "note", field)),
        **located,
    )


def _is_citation_key(key: str) -> bool:
    return key == "sources" or key.endswith("_sources")


def _walk(node: Any, path: str, file: str) -> Iterator[Citation]:
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if _is_citation_key(str(key)) and isinstance(value, list):
                # Anything but a string is reported as cited text so the check flags it.
                yield from (Citation(file, where, str(item)) for item in value)
            else:
                yield from _walk(value, where, file)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}.{index}", file)


def _parse(entry: Traversable) -> Any:
    text = entry.read_text("utf-8")
    return json.loads(text) if entry.name.endswith(".json") else tomllib.loads(text)


def _data_files(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    """(relative name, entry) of every *.toml / *.json file, subfolders included, sorted."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from _data_files(entry, f"{name}/")
        elif entry.name.endswith((".toml", ".json")) and name != SOURCES_FILE:
            yield name, entry


def find_citations(directory: Traversable | Path | None = None) -> tuple[Citation, ...]:
    """Every source id cited in the data files (all but sources.toml itself), in file order."""
    folder = data_dir() if directory is None else directory
    return tuple(c for name, e in _data_files(folder) for c in _walk(_parse(e), "", name))


def check_citations(
    citations: Iterable[Citation] | None = None, sources: Sources | None = None
) -> tuple[Citation, ...]:
    """The citations whose id is not in sources.toml; empty when every citation resolves."""
    known = load_sources() if sources is None else sources
    cited = find_citations() if citations is None else citations
    return tuple(c for c in cited if c.source_id not in known)


def unused_sources(
    citations: Iterable[Citation] | None = None, sources: Sources | None = None
) -> tuple[Source, ...]:
    """Sources no data file cites yet (listed for review; not an error)."""
    known = load_sources() if sources is None else sources
    cited = {c.source_id for c in (find_citations() if citations is None else citations)}
    return tuple(s for s in known if s.id not in cited)
