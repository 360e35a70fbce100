"""What every web answer carries so a browser holds the page to what we meant.

No inline script or style anywhere: every script and stylesheet is a file under /static/, so
the policy needs neither 'unsafe-inline' nor nonces. Images may be blobs (charts fetched with
the Mini App's header) or data URLs. Only Telegram may frame the Mini App.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A page opened from a link cannot be reached by the window that opened it.
    "Cross-Origin-Opener-Policy": "same-origin",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _stamp(request, exc, started)
        raise
    _stamp(request, response, started)
    return response


def _stamp(request: web.Request, response: web.StreamResponse, started: float) -> None:
    if response.prepared:  # a stream (server-sent events) sets its own before it starts
        return
    # How long we took, as browsers' developer tools and bench/web_pages.py read it.
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        # Pages and answers carry someone's money: never kept by a shared cache or the phone.
        response.headers.setdefault("Cache-Control", "no-store")
    elif "v" in request.query:
        # /static/app.js?v=<content hash>: a new file is a new URL, so keep this one a year.
        response.headers.setdefault("Cache-Control", "public, max-age=31536000, immutable")


def prepare_stream(response: web.StreamResponse, request: web.Request) -> None:
    """For handlers that `prepare()` a response themselves (server-sent events)."""
    _stamp(request, response, time.perf_counter())
