"""The Learn guide as served over real HTTP by the app, and as `lowdose knowledge evidence`
prints it: search finds conditions by the names people use, pages keep the accessibility
basics, and the command line shows each study's identifiers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from learn.pagetree import Node, has, parse
from lowdose.api.app import create_app
from lowdose.learn import site
from web.conftest import settings_for

K = site.knowledge()
PAGES = ("/learn", *(f"/learn/{slug}" for slug in site.slugs()),
         "/learn/search?q=fibro", "/learn/search?q=Norco", "/learn/search?q=zzqx")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory,
           serve_app: Callable[[Any], Any]) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("learn-facts")
    settings = settings_for(f"sqlite:///{folder / 'learn.db'}", folder / "data")
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def get(client: httpx.Client, path: str, **params: str) -> Node:
    # Empty params would replace a query string written into the path.
    response = client.get(path, params=params) if params else client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return parse(response.text)


# ------------------------------------------------------------------------------ search


@pytest.mark.parametrize(("query", "condition"), [
    ("fibro", "fibromyalgia"),
    ("long covid", "long-covid"),
    ("long haul covid", "long-covid"),
    ("long hauler", "long-covid"),
    ("MS", "multiple-sclerosis"),
    ("Crohn's", "crohns-disease"),
    ("Crohn’s", "crohns-disease"),
    ("CRPS", "crps"),
    ("ME", "me-cfs"),
    ("ME/CFS", "me-cfs"),
    ("chronic fatigue", "me-cfs"),
    ("diabetic nerve pain", "painful-diabetic-neuropathy"),
    ("Hashimoto", "hashimotos-thyroiditis"),
    ("RA", "rheumatoid-arthritis"),
    ("lupus", "systemic-lupus"),
    ("Parkinson's", "parkinsons-disease"),
    ("IBD", "ulcerative-colitis"),
    ("PTSD", "ptsd"),
])
def test_search_finds_a_condition_by_the_name_people_use(client: httpx.Client, query: str,
                                                         condition: str) -> None:
    # clinical-facts §5 lists each of these conditions; the reader types the everyday name.
    page = get(client, "/learn/search", q=query)
    rows = [n.attrs["data-condition"] for n in page.find_all(has("data-condition"))]
    assert rows and rows[0] == condition, (query, rows)


def test_a_medicine_brand_does_not_bring_up_a_condition(client: httpx.Client) -> None:
    # "MS Contin" is morphine, not multiple sclerosis.
    page = get(client, "/learn/search", q="MS Contin")
    assert not page.find_all(has("data-condition"))
    assert page.find_all(has("data-opioid", "yes"))


# ------------------------------------------------------------------------------ accessibility


@pytest.mark.parametrize("path", PAGES)
def test_pages_keep_the_accessibility_basics(client: httpx.Client, path: str) -> None:
    root = parse(client.get(path).text)
    html = root.find(lambda n: n.tag == "html")
    assert html.attrs.get("lang") == "en"
    main = root.find(lambda n: n.tag == "main")
    levels = [int(n.tag[1]) for n in main.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    skipped = [(a, b) for a, b in pairwise(levels) if b > a + 1]
    assert skipped == [], f"{path}: heading levels skip {skipped}"
    assert all(img.attrs.get("alt") is not None for img in root.find_all(
        lambda n: n.tag == "img"))
    for link in main.find_all(lambda n: n.tag == "a"):
        text = link.text().strip().casefold()
        assert text and text not in {"here", "click here", "more", "link", "read more"}, path


# ------------------------------------------------------------------------------ CLI


def test_the_cli_shows_each_study_with_its_identifiers(lowdose: Callable[..., Any]) -> None:
    # clinical-facts §5: Younger & Mackey 2009 is PMID 19453963 (not 19411815).
    run = lowdose("knowledge", "evidence", "fibro", env={"COLUMNS": "400"})
    assert run.code == 0, run.stderr
    assert "PMID 19453963" in run.stdout
    assert "NCT04270877" in run.stdout and "Mixed randomised trials" in run.stdout
    assert "p = 0.27" in run.stdout
    # Designs in plain words, as on the page (§5: "single-blind crossover", "DB crossover").
    assert "single-blind crossover trial" in run.stdout
    assert "randomised crossover trial" in run.stdout


def test_the_cli_evidence_json_is_the_knowledge_base(lowdose: Callable[..., Any]) -> None:
    run = lowdose("knowledge", "evidence", "long covid", "--json")
    assert run.code == 0, run.stderr
    entry = K.evidence.condition("long-covid")
    assert entry is not None and run.json() == entry.to_dict()


@pytest.mark.parametrize("path", PAGES)
def test_the_off_label_statement_is_cited_wherever_it_appears(client: httpx.Client,
                                                              path: str) -> None:
    # clinical-facts preamble: "LDN is off-label everywhere; no regulator has approved
    # naltrexone below 50 mg for these uses" — a medical statement, so it carries its source
    # wherever a page states it (the footer and the conditions list used to say it uncited).
    # A link that leads to the cited statement is navigation, not the statement.
    main = get(client, path).find(lambda n: n.tag == "main")
    said = [holder for text, holder in main.texts() if "off-label" in text
            and not any(a.tag == "a" for a in holder.ancestors())]
    if path in ("/learn/conditions", "/learn/what-is-ldn"):
        assert said, path
    for holder in said:
        cited = next((a for a in holder.ancestors() if "data-sources" in a.attrs), None)
        assert cited is not None, f"{path}: {holder.text()!r} has no source"
        ids = cited.attrs["data-sources"].split()
        assert "naltrexone-label" in ids
        listed = main.find(has("id", "source-naltrexone-label"))
        assert listed.tag == "li"


@pytest.mark.parametrize(("query", "condition"), [
    ("ME", "me-cfs"), ("crohn", "crohns-disease"), ("long hauler", "long-covid"),
    ("fibro", "fibromyalgia"), ("CRPS", "crps"), ("MS", "multiple-sclerosis"),
])
def test_the_cli_finds_a_condition_as_learn_search_does(lowdose: Callable[..., Any],
                                                        query: str, condition: str) -> None:
    run = lowdose("knowledge", "evidence", query, "--json")
    assert run.code == 0, run.stderr
    assert run.json()["id"] == condition


def test_the_cli_overview_cites_every_condition_and_claim(lowdose: Callable[..., Any]) -> None:
    # No medical statement without its source, on the command line too; claims clinical-facts
    # §7 finds unsupported read "Not supported".
    run = lowdose("knowledge", "evidence", env={"COLUMNS": "600"})
    assert run.code == 0, run.stderr
    out = run.stdout
    lines = out.splitlines()
    for claim in K.evidence.claims:
        row = next(line for line in lines if claim.claim[:40] in line)
        if claim.sources:
            assert claim.sources[0] in row, claim.id
        else:
            assert "none found" in row, claim.id
    hashimoto = next(line for line in lines if "thyroid-hormone dose needed" in line)
    assert "Not supported" in hashimoto
    for entry in K.evidence.conditions:
        row = next(line for line in lines if line.strip("│ ").startswith(entry.name[:20]))
        assert (entry.sources[0] if entry.sources else "none found") in row, entry.id
    assert "Sources" in out and "Younger J, Mackey S" in out


def test_a_condition_the_guide_lacks_is_not_answered_as_if_it_were_a_medicine(
        client: httpx.Client) -> None:
    # clinical-facts covers no study for e.g. autism: the guide says it has nothing, and the
    # screen's "unrecognised medicine" note applies only if the word is a medicine.
    main = get(client, "/learn/search", q="autism").find(lambda n: n.tag == "main")
    assert "Nothing in the guide matches" in main.text()
    notice = main.find(lambda n: "notice" in n.attrs.get("class", "").split()
                       and "not recognised" in n.text())
    assert notice.text().startswith("If it is a medicine:")


@pytest.mark.parametrize(("query", "condition"), [
    ("chrons", "crohns-disease"), ("chron's disease", "crohns-disease"),
    ("fibromialgia", "fibromyalgia"), ("multiple sclerosys", "multiple-sclerosis"),
    ("psoraisis", "psoriasis"), ("M.E.", "me-cfs"), ("M.S.", "multiple-sclerosis"),
])
def test_search_forgives_common_misspellings_of_a_condition(client: httpx.Client, query: str,
                                                            condition: str) -> None:
    page = get(client, "/learn/search", q=query)
    rows = [n.attrs["data-condition"] for n in page.find_all(has("data-condition"))]
    assert rows[:1] == [condition], (query, rows)


@pytest.mark.parametrize("query", ["percocat", "tramadoll", "oxycodon"])
def test_a_misspelt_medicine_is_not_taken_for_a_condition(client: httpx.Client,
                                                          query: str) -> None:
    page = get(client, "/learn/search", q=query)
    assert not page.find_all(has("data-condition")), query


@pytest.mark.parametrize("path", [*PAGES, "/learn/search?q=vivid dreams",
                                  "/learn/search?q=nausea"])
def test_the_untraceable_side_effect_figures_appear_on_no_page(client: httpx.Client,
                                                               path: str) -> None:
    # clinical-facts §4: "insomnia/vivid dreams 5–6 %, nausea 8–18 %, headache ~3 %, none
    # ~77 %" — secondary compilation, "do not display as facts"; not even quoted, since a
    # quoted figure is still a figure a reader takes away.
    text = "".join(get(client, path).find(lambda n: n.tag == "main").text().split())
    for figure in ("5–6%", "8–18%", "77%", "~3%"):
        assert figure not in text, (path, figure)
    if "vivid" in path:
        claims = get(client, path).find_all(has("id", "claim-side-effect-percentages"))
        assert claims, "the claim is still found, and explained"
