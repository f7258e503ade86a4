"""Static files (`/static/...`), the service worker (`/sw.js`, served from the root so it may
control every page) and the web app manifest. Everything is in the package: lowdose runs
offline, nothing comes from a CDN."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, Response

from lowdose.services.errors import NotFound
from lowdose.web.routing import page_router

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
               ".png": "image/png", ".webmanifest": "application/manifest+json",
               ".txt": "text/plain", ".json": "application/json"}

router = page_router()


@router.get("/static/{name:path}")
def static_file(name: str) -> Response:
    try:
        path = (STATIC / name).resolve()
        found = path.is_relative_to(STATIC.resolve()) and path.is_file()
    except OSError:  # a name the file system refuses (too long, say) names no file of ours
        found = False
    if not found or path.suffix not in MEDIA_TYPES:
        raise NotFound("file", name)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix],
                        headers={"Cache-Control": "no-cache"})


@router.get("/sw.js")
def service_worker() -> Response:
    return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")
