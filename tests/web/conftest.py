"""The browser test harness: a real server over a seeded database, real Chromium driven by
Playwright, axe-core for accessibility, screenshots of the key pages.

- Chromium is Debian's package at /usr/bin/chromium (design §5; `.ci/run` installs it). On a
  machine without it the browser tests are skipped with a message, except under CI
  (`CI=true`), where a missing browser fails them.
- One browser per test session; each test gets a fresh browser context (cookies, storage,
  service workers of its own) and a server over its own copy of the persistence tests' cast.
- `axe(page)` runs axe-core (tests/web/vendor/axe.min.js, from the npm registry, MPL-2.0)
  in the page and fails on any serious or critical violation.
- `shoot(page, name)` writes tests/web/screenshots/NAME.png (gitignored).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lowdose.api.app import create_app
from lowdose.settings import Settings
from lowdose.store import Database
from persistence.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    Cast,
    CastIds,
    Templates,
    backend,
    isolated_database,
    templates,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
HERE = Path(__file__).parent
AXE_SOURCE = HERE / "vendor" / "axe.min.js"
SCREENSHOTS = HERE / "screenshots"
SECRET = "web-tests-secret-key-with-enough-characters-0123456789"
# tests/conftest.py's `serve_app`: `with serve_app(app) as url:` serves an ASGI app.
Serve = Callable[[Any], Any]


# ------------------------------------------------------------------------------ servers


@dataclass
class Site:
    """A real lowdose server over a database holding the cast."""

    url: str
    cast: Cast
    settings: Settings

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20)

    @contextmanager
    def signed_in(self, persona: str) -> Iterator[httpx.Client]:
        """An httpx client with `persona`'s browser session cookie."""
        with self.client() as client:
            sign_in_with(client, self.cast.user(persona).username)
            yield client


def settings_for(url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(mode="development", data_dir=data_dir, database_url=url,
                    secret_key=SECRET, hold_hours=None, **extra)


def csrf_of(html: str) -> str:
    marker = 'name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def sign_in_with(client: httpx.Client, username: str, password: str = PASSWORD) -> None:
    page = client.get("/signin")
    response = client.post("/signin", data={"username": username, "password": password,
                                            "csrf_token": csrf_of(page.text)})
    assert response.status_code == 303, response.text


@pytest.fixture
def site(isolated_database: Callable[[str], tuple[str, object]],  # noqa: F811
         tmp_path: Path, serve_app: Serve) -> Iterator[Site]:
    """A server over the cast, on SQLite and on PostgreSQL (for tests without a browser)."""
    url, ids = isolated_database("cast")
    assert isinstance(ids, CastIds)
    yield from _serve(url, ids, tmp_path, serve_app)


@pytest.fixture
def browser_site(templates: Templates, tmp_path: Path,  # noqa: F811
                 serve_app: Serve) -> Iterator[Site]:
    """A server over a fresh SQLite copy of the cast, for the browser tests: the pages do the
    same on both databases (the services are tested on both), a browser run is dear."""
    url, ids = templates.fresh("sqlite", "cast", f"web-{uuid.uuid4().hex[:10]}")
    assert isinstance(ids, CastIds)
    yield from _serve(url, ids, tmp_path, serve_app)


def _serve(url: str, ids: CastIds, tmp_path: Path, serve_app: Serve) -> Iterator[Site]:
    settings = settings_for(url, tmp_path / "data")
    database = Database(url)
    try:
        with serve_app(create_app(settings)) as base:
            yield Site(base, Cast(database, ids), settings)
    finally:
        database.dispose()


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        message = (f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium; "
                   ".ci/run does it)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; under CI the browser tests must run", pytrace=False)
        pytest.skip(f"{message}: browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, browser_site: Site) -> Iterator[Any]:
    """A fresh browser context (a phone-sized window) on the test's server."""
    context = browser.new_context(base_url=browser_site.url,
                                  viewport={"width": 400, "height": 860})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text)
              if message.type == "error" and "Content Security Policy" in message.text
              else None)
    yield opened
    context.close()
    assert errors == [], f"script errors or CSP violations in the page: {errors}"


def sign_in(page: Any, site: Site, persona: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/signin")
    page.get_by_label("Username").fill(site.cast.user(persona).username)
    page.get_by_label("Password").fill(PASSWORD)
    follow(page, page.get_by_role("button", name="Sign in"))


def follow(page: Any, control: Any) -> None:
    """Click a link or a form's button and wait for the page it leads to: a click returns as
    soon as the navigation starts, and reading then could still read the page before."""
    with page.expect_navigation():
        control.click()


# ------------------------------------------------------------------------------ axe, shots


def axe(page: Any) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) in the page; fail on serious or critical
    violations. Evaluated through the DevTools protocol, so the page's strict CSP stays on."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE.read_text() + "\n;undefined")
    results: dict[str, Any] = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})")
    bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"axe on {page.url}:\n" + "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        f"{[node['target'] for node in v['nodes']][:5]}" for v in bad)
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def shoot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
