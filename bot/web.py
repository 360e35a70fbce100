"""The aiohttp app: health, readiness, Telegram's webhook (and Daraja's callbacks)."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update

from bot.container import CALLBACK_PATH, Services
from bot.context import CallsheetApplication
from bot.db import database_ready
from bot.webkeys import APPLICATION, SERVICES
from handlers.web import add_pages
from handlers.web._security import security_headers
from services.daraja import MalformedCallback, Product
from services.daraja.urls import result_path, timeout_path
from services.payroll.results import PRODUCTS

log = logging.getLogger(__name__)


ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}

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
    try:
        update = Update.de_json(data, application.bot)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Telegram never sends these; an answer other than 200 would only make it retry.
        log.warning("webhook update %s refused: not an Update (%r)", data["update_id"], exc)
        return web.json_response({"error": "malformed update"}, status=400)
    await application.update_queue.put(update)
    return web.json_response({"ok": True})


def client_ip(request: web.Request, trusted_proxies: tuple[str, ...]) -> str | None:
    """The caller's address; X-Forwarded-For is believed only from our own proxies."""
    remote = request.remote
    if remote is None or not _in(remote, trusted_proxies):
        return remote
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    # The rightmost address our proxies did not add is the one that reached them.
    for hop in reversed(hops):
        if not _in(hop, trusted_proxies):
            return hop
    return hops[0] if hops else remote


def _in(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _from_daraja(request: web.Request, wanted: object | None) -> str | None:
    """The caller's address, once the URL's secret and DARAJA_ALLOWED_IPS let it in. Raises
    404 for a wrong secret (or a receiver that is off), _Refused for an address not allowed."""
    settings = request.app[SERVICES].settings
    expected = settings.daraja_callback_secret
    given = request.match_info["secret"]
    if (
        wanted is None
        or expected is None
        or not hmac.compare_digest(given.encode(), expected.get_secret_value().encode())
    ):
        log.warning(
            "Daraja post to %s refused: wrong secret, from %s", request.path[:60], request.remote
        )
        raise web.HTTPNotFound()
    ip = client_ip(request, settings.daraja_trusted_proxies)
    if settings.daraja_allowed_ips and (ip is None or not _in(ip, settings.daraja_allowed_ips)):
        log.warning("Daraja post refused: %s is not in DARAJA_ALLOWED_IPS", ip)
        raise _Refused(web.json_response({"ResultCode": 1, "ResultDesc": "Forbidden"}, status=403))
    return ip


async def daraja_callback(request: web.Request) -> web.Response:
    callbacks = request.app[SERVICES].callbacks
    try:
        ip = _from_daraja(request, callbacks)
    except _Refused as refused:
        return refused.response
    assert callbacks is not None
    body = await request.read()
    try:
        await callbacks.receive(body, ip)  # stored and committed; settled right after
    except MalformedCallback as exc:
        log.warning("Daraja callback from %s is malformed (%s); stored", ip, exc.reason)
        return web.json_response({"ResultCode": 1, "ResultDesc": "Malformed callback"}, status=400)
    return web.json_response(ACCEPTED)


def operator_post(product: Product, *, timeout: bool) -> Handler:
    """The ResultURL (or QueueTimeOutURL) of one operator API: stored raw and committed before
    Daraja hears 200, applied by the pay sender just after."""

    async def receive(request: web.Request) -> web.Response:
        results = request.app[SERVICES].operator_results
        try:
            ip = _from_daraja(request, results)
        except _Refused as refused:
            return refused.response
        assert results is not None
        body = await request.read()
        try:
            await results.receive(product, body, ip, timeout=timeout)
        except MalformedCallback as exc:
            log.warning(
                "Daraja %s result from %s is malformed (%s); stored", product, ip, exc.reason
            )
            return web.json_response(
                {"ResultCode": 1, "ResultDesc": "Malformed result"}, status=400
            )
        return web.json_response(ACCEPTED)

    return receive


def build_web_app(services: Services, application: CallsheetApplication) -> web.Application:
    app = web.Application(
        middlewares=[security_headers, errors_middleware], client_max_size=1024 * 1024
    )
    app[SERVICES] = services
    app[APPLICATION] = application
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post("/telegram/webhook", telegram_webhook)
    app.router.add_post(CALLBACK_PATH + "{secret}", daraja_callback)
    for product in PRODUCTS:
        app.router.add_post(
            result_path(product) + "{secret}", operator_post(product, timeout=False)
        )
        app.router.add_post(
            timeout_path(product) + "{secret}", operator_post(product, timeout=True)
        )
    add_pages(app, services)
    return app
