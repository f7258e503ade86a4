"""A small tree of an HTML page (stdlib html.parser), enough for tests to walk every text
node with its ancestors and to find elements by attribute."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """The element's text, whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, wanted: Callable[[Node], bool]) -> list[Node]:
        return [n for n in self.iter() if wanted(n)]

    def find(self, wanted: Callable[[Node], bool]) -> Node:
        found = self.find_all(wanted)
        assert found, "element not found"
        return found[0]

    def texts(self) -> Iterator[tuple[str, Node]]:
        """Every non-blank text node with the element that holds it."""
        for child in self.children:
            if isinstance(child, str):
                if child.strip():
                    yield child, self
            else:
                yield from child.texts()

    def ancestors(self) -> Iterator[Node]:
        node: Node | None = self
        while node is not None:
            yield node
            node = node.parent


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        for node in self.current.ancestors():
            if node.tag == tag:
                self.current = node.parent or self.root
                return

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def has(attr: str, value: str | None = None) -> Callable[[Node], bool]:
    return lambda n: attr in n.attrs and (value is None or n.attrs[attr] == value)
