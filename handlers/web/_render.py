"""Rendering pages (provisional: the lead's foundation replaces this)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from handlers.web._auth import services
from services.clock import format_when

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"
STATIC = Path(__file__).parent / "static"


@functools.cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.cache
def _static(name: str) -> str:
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    return f"/static/{name}?v={digest}"


def render(request: web.Request, name: str, *, status: int = 200, **ctx: Any) -> web.Response:
    found = services(request)
    tz, now = found.settings.tz, found.clock.now()
    html = (
        _env()
        .get_template(name)
        .render(
            company=found.settings.company_name,
            static=_static,
            when=lambda dt: format_when(dt, tz, now),
            **ctx,
        )
    )
    return web.Response(text=html, status=status, content_type="text/html")
