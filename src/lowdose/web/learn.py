"""Learn pages under `/learn`: the cited LDN guide, public (no sign-in), plus search and the
printable handout. Thin: look the page model up in `lowdose.learn.site`, render it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from lowdose.errors import InputError
from lowdose.learn import site
from lowdose.learn.evidence import ConditionsPage
from lowdose.learn.facts import cited_ids
from lowdose.services.errors import NotFound
from lowdose.web.routing import page_router
from lowdose.web.templating import render

router = page_router(prefix="/learn")
STYLESHEET = Path(__file__).parent / "templates" / "learn" / "learn.css"
# Breadcrumb label of a section page, and its template.
TITLES = {s.slug: s.title for s in site.SECTIONS}


def _render(request: Request, template: str, title: str, model: object,
            crumbs: list[tuple[str, str]], status: int = 200, **context: Any) -> HTMLResponse:
    ids = cited_ids(model)
    sources = site.sources_of(model)
    return render(request, template, {
        "page_title": title, "crumbs": crumbs, "sources": sources,
        "numbers": {s: i for i, s in enumerate(ids, start=1)},
        "reviewed": getattr(model, "reviewed", None), **context,
    }, status=status)


@router.get("")
def index(request: Request) -> HTMLResponse:
    about, conditions = site.page("what-is-ldn"), site.page("conditions")
    intro = getattr(about, "intro", ())[:1]
    listed = getattr(conditions, "conditions", ())
    reviewed = max(p.reviewed for p in (about, conditions) if p is not None)
    return _render(request, "learn/index.html", "Learn about LDN", (intro, listed), [],
                   intro=intro, sections=site.SECTIONS, conditions=listed, reviewed=reviewed)


@router.get("/learn.css")
def stylesheet() -> Response:
    return FileResponse(STYLESHEET, media_type="text/css", headers={"Cache-Control": "no-cache"})


@router.get("/search")
def search(request: Request, q: str | None = None) -> HTMLResponse:
    if q is None or not q.strip():
        return _render(request, "learn/search.html", "Search the guide", (), [("Search", "")],
                       results=None, query="", error=None)
    try:
        results = site.find(q, datetime.now())
    except InputError as exc:
        return _render(request, "learn/search.html", "Search the guide", (),
                       [("Search", "")], status=422, results=None, query=q[:200],
                       error=f"{exc.field}: {exc.message}")
    count = (len(results.conditions) + len(results.medicines) + len(results.claims))
    return _render(request, "learn/search.html", "Search the guide", results,
                   [("Search", "")], results=results, results_count=count,
                   query=results.query, error=None)


@router.get("/conditions/{condition_id}/handout.pdf")
def handout(condition_id: str) -> Response:
    pdf = site.handout_pdf(condition_id)
    if pdf is None:
        raise NotFound("condition", condition_id)
    name = f"ldn-evidence-{condition_id}.pdf"
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/conditions/{condition_id}")
def condition(request: Request, condition_id: str) -> HTMLResponse:
    page = site.condition(condition_id)
    if page is None:
        raise NotFound("condition", condition_id)
    crumbs = [(TITLES["conditions"], "/learn/conditions"), (page.name, "")]
    return _render(request, "learn/condition.html", page.title, page, crumbs, page=page)


def _section(slug: str) -> Callable[[Request], HTMLResponse]:
    def show(request: Request) -> HTMLResponse:
        page = site.page(slug)
        if page is None:  # pragma: no cover - every section has a builder
            raise NotFound("page", slug)
        context: dict[str, Any] = {"page": page}
        if isinstance(page, ConditionsPage):
            context |= {"conditions": page.conditions, "grades": page.grades}
        return _render(request, f"learn/{slug}.html", page.title, page,
                       [(TITLES[slug], "")], **context)

    show.__name__ = f"learn_{slug.replace('-', '_')}"
    return show


for _slug in TITLES:
    router.add_api_route(f"/{_slug}", _section(_slug), methods=["GET"])
