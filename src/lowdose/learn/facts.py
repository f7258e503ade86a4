"""A fact as the guide shows it: text plus the source ids behind it, and the walk that finds
every fact of a page so its sources can be listed and numbered."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lowdose.knowledge.evidence import untraceable_percentages
from lowdose.knowledge.guide import NOT_FOUND, Statement
from lowdose.knowledge.sources import Source, Sources

T = TypeVar("T")


@dataclass(frozen=True)
class Fact:
    """Text shown as a fact. `sources` are the ids it rests on; a fact that says no source
    was found has none and `unsourced = "not-found"`. `grade` is the evidence grade id when
    the fact states a condition's grade."""

    text: str
    sources: tuple[str, ...] = ()
    unsourced: str | None = None
    grade: str | None = None

    def __post_init__(self) -> None:
        if not self.sources and self.unsourced != NOT_FOUND:
            raise ValueError(f"a fact needs a source or unsourced='not-found': {self.text!r}")

    @classmethod
    def of(cls, statement: Statement) -> Fact:
        return cls(statement.text, statement.sources, statement.unsourced)

    @classmethod
    def not_found(cls, text: str) -> Fact:
        return cls(text, (), NOT_FOUND)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "sources": list(self.sources)}
        if self.unsourced:
            out["unsourced"] = self.unsourced
        if self.grade:
            out["grade"] = self.grade
        return out


def facts_in(node: Any) -> Iterator[Fact]:
    """Every Fact inside a page model (dataclasses, tuples and mappings), in field order."""
    if isinstance(node, Fact):
        yield node
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            yield from facts_in(getattr(node, f.name))
    elif isinstance(node, tuple | list):
        for item in node:
            yield from facts_in(item)
    elif isinstance(node, Mapping):
        for item in node.values():
            yield from facts_in(item)


def cited_ids(node: Any) -> tuple[str, ...]:
    """The source ids a page model cites, first mention first."""
    return tuple(dict.fromkeys(s for fact in facts_in(node) for s in fact.sources))


def cited_sources(node: Any, sources: Sources) -> tuple[Source, ...]:
    return tuple(sources.by_id[i] for i in cited_ids(node))


def untraceable(node: Any, sources: Sources) -> tuple[tuple[str, Fact], ...]:
    """(percentage, fact) for every percentage a page model shows that none of the fact's
    cited sources holds; a fact citing nothing can back no percentage at all. Quoted claims
    are not facts and are not walked (clinical-facts §4: untraceable figures are not shown
    as facts)."""
    found = []
    for fact in facts_in(node):
        cited = [sources.by_id[i] for i in fact.sources if i in sources.by_id]
        found += [(p, fact) for p in untraceable_percentages([fact.text], cited)]
    return tuple(found)


def require_traceable(node: T, sources: Sources) -> T:
    """`node` itself, or ValueError naming the first untraceable percentage it shows."""
    bad = untraceable(node, sources)
    if bad:
        percentage, fact = bad[0]
        raise ValueError(f"percentage {percentage!r} is not in any cited source: {fact.text!r}")
    return node
