"""Pages and fragments rendered with jinja2 from templates/web/ (autoescaped), with the same
filters as the chat's messages: `when` (Sat 5 Dec, 18:00), `kes`, `phone`."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.container import Services
from bot.webkeys import SERVICES
from services.notifications import TEMPLATES, Renderer

STATIC = Path(__file__).resolve().parent / "static"
PAGES = web.AppKey("pages", Renderer)


@cache
def static_url(name: str) -> str:
    """/static/<name>?v=<content hash>: a changed file gets a new URL, so a phone may keep the
    old one for a year and still never run a stale script."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


def page_renderer(services: Services) -> Renderer:
    settings = services.settings
    renderer = Renderer(settings.tz, settings.company_name, "", folders=(TEMPLATES / "web",))
    renderer.env.globals.update(static=static_url, company=settings.company_name)
    return renderer


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """A whole page, or a Mini App fragment: the template decides."""
    now = request.app[SERVICES].clock.now()
    html = request.app[PAGES].env.get_template(template).render(now=now, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
