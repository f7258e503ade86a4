"""bench/RESULTS.md: each benchmark owns one `## ...` section and replaces only that one."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(heading: str, text: str) -> None:
    """Put `text` (which starts with `heading`) in place of that section, or add it at the end."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = current.find(heading)
    if start == -1:
        current = current.rstrip("\n") + "\n\n" + text
    else:
        end = current.find("\n## ", start + len(heading))
        current = current[:start] + text.rstrip("\n") + "\n" + (
            "\n" + current[end + 1:] if end != -1 else "")
    RESULTS.write_text(current if current.endswith("\n") else current + "\n", encoding="utf-8")
