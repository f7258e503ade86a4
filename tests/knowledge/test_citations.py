"""Every source id cited anywhere in knowledge/data exists in sources.toml.

This fails while someone cites an id that sources.toml does not define: that is its job.
"""

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from lowdose.knowledge.sources import (
    Citation,
    check_citations,
    find_citations,
    load_sources,
    unused_sources,
)

KNOWN = sorted(s.id for s in load_sources())


def test_every_cited_source_id_is_defined_in_sources_toml():
    unknown = check_citations()
    assert unknown == (), "unknown source ids:\n" + "\n".join(
        f"  {c.file}: {c.path} cites {c.source_id!r}" for c in unknown)


def test_the_walk_reaches_the_evidence_and_side_effect_files():
    files = {c.file for c in find_citations()}
    assert {"evidence.toml", "side_effects.toml"} <= files
    assert "sources.toml" not in files


def test_a_younger_2009_citation_is_found_where_the_fibromyalgia_studies_are():
    paths = {c.path for c in find_citations()
             if c.file == "evidence.toml" and c.source_id == "younger-2009"}
    assert "conditions.0.sources" in paths
    assert "conditions.0.studies.0.sources" in paths


def test_unknown_ids_in_toml_and_json_are_reported_with_file_and_path(tmp_path):
    (tmp_path / "rules.toml").write_text(
        '[rule]\nsources = ["naltrexone-label", "no-such-source"]\n'
        'filler_sources = ["compounder-fillers", "made-up-2099"]\n', "utf-8")
    (tmp_path / "drugs.json").write_text(json.dumps(
        {"drugs": [{"name": "x", "sources": ["rxnorm"]},
                   {"name": "y", "sources": ["typo-label"]}]}), "utf-8")
    (tmp_path / "notes.txt").write_text('sources = ["ignored"]', "utf-8")

    unknown = check_citations(find_citations(tmp_path))

    assert set(unknown) == {
        Citation("drugs.json", "drugs.1.sources", "typo-label"),
        Citation("rules.toml", "rule.sources", "no-such-source"),
        Citation("rules.toml", "rule.filler_sources", "made-up-2099"),
    }


def test_files_in_subfolders_are_checked_too(tmp_path):
    (tmp_path / "instruments").mkdir()
    (tmp_path / "instruments" / "pain.toml").write_text('sources = ["farrar-2001", "nope"]\n')
    assert check_citations(find_citations(tmp_path)) == (
        Citation("instruments/pain.toml", "sources", "nope"),)


def test_a_non_text_entry_in_a_sources_list_is_reported(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"sources": [7]}), "utf-8")
    assert [c.source_id for c in check_citations(find_citations(tmp_path))] == ["7"]


def test_a_folder_where_everything_resolves_reports_nothing(tmp_path):
    (tmp_path / "ok.toml").write_text('sources = ["younger-2009", "bruun-2024"]\n', "utf-8")
    assert check_citations(find_citations(tmp_path)) == ()


def test_unused_sources_are_those_no_file_cites(tmp_path):
    (tmp_path / "one.toml").write_text('sources = ["younger-2009"]\n', "utf-8")
    unused = {s.id for s in unused_sources(find_citations(tmp_path))}
    assert "younger-2009" not in unused
    assert unused == set(KNOWN) - {"younger-2009"}


ids = st.one_of(st.sampled_from(KNOWN), st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))


@given(st.lists(ids, max_size=12))
def test_exactly_the_undefined_ids_are_reported_in_citation_order(cited):
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "facts.toml").write_text(f"sources = {json.dumps(cited)}\n", "utf-8")
        found = find_citations(Path(folder))
    assert [c.source_id for c in found] == cited
    assert [c.source_id for c in check_citations(found)] == [i for i in cited if i not in KNOWN]
