"""Web pages served by the aiohttp app (provisional: the lead's foundation replaces this)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from handlers.web import _security, checkout

STATIC = Path(__file__).parent / "static"


def add_pages(app: web.Application) -> None:
    app.middlewares.append(_security.headers)
    app.router.add_static("/static/", STATIC)
    for module in (checkout,):
        app.router.add_routes(module.routes)
