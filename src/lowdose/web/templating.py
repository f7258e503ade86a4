"""`render(request, name, context)`: a page from `web/templates/`, with what every page needs
(the signed-in user, the CSRF token, the navigation, the idle timeout) already in its context.

Autoescaping is on for every template: text from the record (notes, medicine names, display
names) is always shown as text, never as markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from lowdose import __version__
from lowdose.core.outcomes import chance_percent
from lowdose.knowledge.sources import Source, load_sources
from lowdose.services.accounts import UserView
from lowdose.services.errors import ServiceError
from lowdose.web import session

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)



def _source(source_id: str) -> Source | None:
    return load_sources().by_id.get(source_id)


# Templates cite with `source("id")` (see `_macros.html`): the citation comes from
# knowledge/data/sources.toml, never from a copy in a template.
environment.globals["source"] = _source
environment.filters["chance"] = chance_percent

# (label, path, roles that see it); the clinician and learn pages live on the same shell.
NAVIGATION: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("Today", "/today", frozenset({"patient"})),
    ("Plan", "/plan", frozenset({"patient"})),
    ("Charts", "/charts", frozenset({"patient"})),
    ("Is it working?", "/outcomes", frozenset({"patient"})),
    ("Supply", "/supply", frozenset({"patient"})),
    ("Surgery", "/surgery", frozenset({"patient"})),
    ("Calendar", "/calendar", frozenset({"patient"})),
    ("Questionnaires", "/questionnaires", frozenset({"patient"})),
    ("Profile", "/profile", frozenset({"patient"})),
    ("Panel", "/clinic/panel", frozenset({"clinician"})),
    ("Users", "/admin/users", frozenset({"admin"})),
    ("Care teams", "/admin/care-teams", frozenset({"admin"})),
    ("Audit log", "/admin/audit", frozenset({"admin"})),
    ("Backups", "/admin/backups", frozenset({"admin"})),
    ("Learn", "/learn", frozenset({"anonymous", "patient", "clinician", "admin"})),
    ("Account", "/account", frozenset({"patient", "clinician", "admin"})),
)


def render(request: Request, name: str, context: dict[str, Any],
           status: int = 200) -> HTMLResponse:
    """The template `name` rendered with `context` plus the shell's own values."""
    user = _user_or_none(request)
    role = user.role if user else "anonymous"
    settings = session.settings(request)
    values = {
        "request": request,
        "user": user,
        "nav": [(label, path) for label, path, roles in NAVIGATION if role in roles],
        "current_path": request.url.path,
        "csrf_token": session.csrf_for(request),
        "idle_seconds": session.IDLE_SECONDS if user else None,
        "mode": settings.mode,
        "version": __version__,
        **context,
    }
    html = environment.get_template(name).render(values)
    response = HTMLResponse(html, status_code=status)
    pre = getattr(request.state, "new_pre_session", None)
    if pre:
        session.set_pre_session_cookie(request, response, pre)
    return response


def _user_or_none(request: Request) -> UserView | None:
    if session.optional_context(request) is None:
        return None
    try:
        return session.current_user(request)
    except ServiceError:
        return None
