"""The aiohttp app: health, readiness, Telegram's webhook (and Daraja's callbacks)."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.container import Services
from bot.db import database_ready

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
APPLICATION = web.AppKey("application", Application)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        error_id = secrets.token_hex(3).upper()
        log.exception("error %s on %s %s", error_id, request.method, request.path)
        return web.json_response({"error": "internal error", "id": error_id}, status=500)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    if await database_ready():
        return web.json_response({"status": "ok", "database": "ok"})
    return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)


async def telegram_webhook(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    expected = services.settings.telegram_webhook_secret
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if expected is None or not hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        log.warning("webhook request refused: wrong secret header from %s", request.remote)
        return web.json_response({"error": "forbidden"}, status=403)
    try:
        data: Any = json.loads(await request.read())
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an Update object")
    except ValueError as exc:
        log.warning("webhook body refused: %s", exc)
        return web.json_response({"error": "malformed update"}, status=400)
    application = request.app[APPLICATION]
    update = Update.de_json(data, application.bot)
    await application.update_queue.put(update)
    return web.json_response({"ok": True})


def build_web_app(services: Services, application: Application) -> web.Application:  # type: ignore[type-arg]
    app = web.Application(middlewares=[errors_middleware], client_max_size=1024 * 1024)
    app[SERVICES] = services
    app[APPLICATION] = application
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post("/telegram/webhook", telegram_webhook)
    return app
