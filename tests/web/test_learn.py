"""The Learn pages over real HTTP: every page renders without signing in, every fact shown
carries a source (a text on a page that is neither a cited fact, a "no source found"
statement, a quoted claim nor navigation fails the walk), grades equal the knowledge base,
and each condition page says what `lowdose knowledge evidence CONDITION --json` says."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from learn.pagetree import Node, has, parse
from lowdose.api.app import create_app
from lowdose.knowledge.evidence import load_evidence
from lowdose.knowledge.guide import load_guide
from lowdose.knowledge.sources import load_sources
from lowdose.learn import site
from lowdose.learn.evidence import DESIGN_LABELS, VERDICT_LABELS
from web.conftest import settings_for

EVIDENCE = load_evidence()
PAGES = ("/learn", *(f"/learn/{slug}" for slug in site.slugs()),
         "/learn/search", "/learn/search?q=Norco", "/learn/search?q=fibro",
         "/learn/search?q=thyroid", "/learn/search?q=percocat", "/learn/search?q=zzqx",
         "/learn/search?q=50%25")  # a percentage of the reader's own is quoted, not refused
# Navigation and labels may not state numbers: a number on a page is a fact and must be cited.
# These markers hold text that legitimately has digits (citation marks, the source list, the
# review date in the page head, the count of search results).
# The grading key is the knowledge base's own wording (evidence.toml [grades]).
UI_WITH_DIGITS = frozenset({"citation", "sources", "layout", "status", "footer", "empty",
                            "grading-key"})


@pytest.fixture(scope="module")
def learn_url(tmp_path_factory: pytest.TempPathFactory,
              serve_app: Callable[[Any], Any]) -> Iterator[str]:
    """A real server; the guide needs no account and no stored data."""
    folder = tmp_path_factory.mktemp("learn")
    settings = settings_for(f"sqlite:///{folder / 'learn.db'}", folder / "data")
    with serve_app(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def client(learn_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=learn_url, timeout=30) as c:
        yield c


def main_of(client: httpx.Client, path: str) -> Node:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.headers["content-type"].startswith("text/html")
    return parse(response.text).find(lambda n: n.tag == "main")


# ------------------------------------------------------------------------------ every page


@pytest.mark.parametrize("path", PAGES)
def test_every_fact_on_every_page_carries_a_source(client: httpx.Client, path: str) -> None:
    main = main_of(client, path)
    known = load_sources()
    listed = {n.attrs["id"].removeprefix("source-")
              for n in main.find_all(lambda n: n.attrs.get("id", "").startswith("source-"))}
    unmarked, bad = [], []
    for text, holder in main.texts():
        marker = next((a for a in holder.ancestors() if {"data-sources", "data-unsourced",
                       "data-ui", "data-claim"} & set(a.attrs)), None)
        if marker is None:
            unmarked.append(text.strip())
        elif "data-sources" in marker.attrs:
            ids = marker.attrs["data-sources"].split()
            bad += [f"{i} unknown" for i in ids if i not in known]
            bad += [f"{i} not in the page's source list" for i in ids if i not in listed]
        elif "data-unsourced" in marker.attrs:
            if marker.attrs["data-unsourced"] != "not-found":
                bad.append(f"unsourced without saying so: {text.strip()!r}")
        elif "data-ui" in marker.attrs and re.search(r"\d", text) \
                and marker.attrs["data-ui"] not in UI_WITH_DIGITS:
            bad.append(f"a number in navigation text: {text.strip()!r}")
    assert unmarked == [], f"{path}: text shown as neither a cited fact nor navigation"
    assert bad == []


@pytest.mark.parametrize("path", PAGES)
def test_each_page_links_its_citations_to_its_source_list(client: httpx.Client,
                                                          path: str) -> None:
    main = main_of(client, path)
    targets = {n.attrs["id"] for n in main.iter() if "id" in n.attrs}
    links = main.find_all(lambda n: n.tag == "a" and n.attrs.get("href", "").startswith("#"))
    assert all(a.attrs["href"][1:] in targets for a in links)
    if main.find_all(has("data-sources")):
        assert main.find_all(has("data-ui", "citation")), "facts without visible citations"


@pytest.mark.parametrize("path", [p for p in PAGES if "search" not in p])
def test_each_page_says_when_its_facts_were_last_reviewed(client: httpx.Client,
                                                          path: str) -> None:
    stamp = main_of(client, path).find(lambda n: n.tag == "time")
    guide = load_guide()
    assert stamp.attrs["datetime"] in {d.isoformat() for d in guide.reviewed.values()}
    assert stamp.parent is not None and "last reviewed" in stamp.parent.text()


def test_pages_need_no_sign_in_and_load_nothing_from_elsewhere(client: httpx.Client) -> None:
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 200, path
        html = response.text
        # Assets (scripts, styles, images) come from this server; links out are fine.
        assert not re.search(r'(?:src|href)="(?:https?:)?//[^"]+\.(?:js|css|woff2?|png|svg)',
                             html), path
        assert "<style" not in html and ' style="' not in html, path


def test_an_unknown_condition_is_not_found(client: httpx.Client) -> None:
    assert client.get("/learn/conditions/no-such-thing").status_code == 404
    assert client.get("/learn/conditions/no-such-thing/handout.pdf").status_code == 404


def test_a_search_longer_than_allowed_is_refused_by_name(client: httpx.Client) -> None:
    response = client.get("/learn/search", params={"q": "a" * 201})
    assert response.status_code == 422
    alert = parse(response.text).find(has("role", "alert"))
    assert alert.text() == "q: must be at most 200 characters"


# ------------------------------------------------------------------------------ grades


def test_grades_on_the_pages_equal_the_knowledge_base(client: httpx.Client) -> None:
    listed = main_of(client, "/learn/conditions")
    for condition in EVIDENCE.conditions:
        row = listed.find(has("data-condition", condition.id))
        grade = row.find(has("data-grade"))
        assert (grade.attrs["data-grade"], grade.text()) == (condition.grade.id,
                                                             condition.grade.label)
        page = main_of(client, f"/learn/conditions/{condition.id}")
        shown = {n.attrs["data-grade"] for n in page.find_all(has("data-grade"))}
        assert shown == {condition.grade.id}


def test_claims_show_the_verdict_of_the_knowledge_base(client: httpx.Client) -> None:
    page = main_of(client, "/learn/claims")
    for claim in EVIDENCE.claims:
        article = page.find(has("id", f"claim-{claim.id}"))
        assert article.find(has("data-claim")).text() == claim.claim
        assert article.find(has("data-verdict")).text().startswith(VERDICT_LABELS[claim.verdict])
        if claim.verdict == "no-data":
            assert article.find_all(has("data-unsourced", "not-found"))
        else:
            assert article.find(has("data-sources")).attrs["data-sources"].split() == list(
                claim.sources)


def test_a_mistaken_citation_is_shown_corrected(client: httpx.Client) -> None:
    article = main_of(client, "/learn/claims").find(has("id", "claim-younger-2009-pmid"))
    assert "19411815" in article.text() and "19453963" in article.text()
    assert "Not supported" in article.text()


def test_side_effects_show_frequencies_only_where_a_source_gives_them(
        client: httpx.Client) -> None:
    page = main_of(client, "/learn/side-effects")
    counted = load_guide().frequency
    for effect in site.knowledge().course.side_effects:
        cell = page.find(has("id", f"effect-{effect.id}")).find(
            lambda n: "frequency" in n.attrs.get("class", ""))
        if effect.id in counted:
            assert cell.find(has("data-sources")).text() == counted[effect.id].text
        else:
            assert cell.find(has("data-unsourced", "not-found"))
            assert not re.search(r"\d", cell.text())
    # The untraceable figures that circulate ("none 77 %", "insomnia 5–6 %") are not shown.
    effects = " ".join(n.text() for n in page.find_all(
        lambda n: "effect" in n.attrs.get("class", "").split()))
    assert "77" not in effects and "5–6" not in effects and "%" not in effects


# ------------------------------------------------------------------------------ CLI agreement


@pytest.mark.parametrize("condition", [c.id for c in EVIDENCE.conditions])
def test_the_page_and_the_knowledge_command_agree(client: httpx.Client,
                                                  lowdose: Callable[..., Any],
                                                  condition: str) -> None:
    entry = EVIDENCE.condition(condition)
    assert entry is not None
    run = lowdose("knowledge", "evidence", entry.name, "--json")
    assert run.code == 0, run.stderr
    data: dict[str, Any] = run.json()
    page = main_of(client, f"/learn/conditions/{condition}")

    assert data["name"] in page.find(lambda n: n.tag == "h1").text()
    grade = page.find(has("data-grade"))
    assert (grade.attrs["data-grade"], grade.text()) == (data["grade"], data["grade_label"])
    assert data["summary"] in page.text()
    if data["grade_note"]:
        assert data["grade_note"] in page.text()
    rows = page.find_all(lambda n: "study" in n.attrs.get("class", "").split())
    assert len(rows) == len(data["studies"])
    for row, study in zip(rows, data["studies"], strict=True):
        text = row.text()
        assert f"{study['first_author']} {study['year']}" in text
        assert study["journal"] in text and study["result"] in text
        assert row.find(lambda n: "design" in n.attrs.get("class", "")).text() == \
            DESIGN_LABELS[study["design"]]
        assert row.find(lambda n: "n" in n.attrs.get("class", "").split()).text() == \
            ("—" if study["n"] is None else str(study["n"]))
        assert row.attrs["data-sources"].split() == study["sources"]
        links = {a.attrs["data-kind"]: a.attrs["href"]
                 for a in row.find_all(has("data-kind"))}
        if "pmid" in study:
            assert links["PMID"] == f"https://pubmed.ncbi.nlm.nih.gov/{study['pmid']}/"
        if "doi" in study:
            assert links["DOI"] == f"https://doi.org/{study['doi']}"
    cited = {i for s in data["studies"] for i in s["sources"]} | set(data["sources"])
    listed = {n.attrs["id"].removeprefix("source-")
              for n in page.find_all(lambda n: n.attrs.get("id", "").startswith("source-"))}
    assert listed == cited


# ------------------------------------------------------------------------------ handout


def test_the_handout_is_a_pdf_built_from_the_page(client: httpx.Client) -> None:
    response = client.get("/learn/conditions/crohns-disease/handout.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages)
    flat = " ".join(text.split())
    entry = EVIDENCE.condition("crohns-disease")
    assert entry is not None
    assert "LDN: what the evidence says" in flat and entry.name in flat
    assert entry.grade.label in flat
    assert "does not make them" in flat
