"""The client's checkout page, `/pay/<token>`: the deposit, Pay, and the prompt's state live.

    GET  /pay/<token>                     the page (works without JS: Pay is a form, plus Refresh)
    POST /pay/<token>                     Pay: JSON for checkout.js, else 303 back to the page
    GET  /pay/<token>/status              the state as JSON (the fallback when SSE fails)
    GET  /pay/<token>/events              the state as server-sent events, on each change
    GET  /pay/<token>/receipt/<id>.pdf    a receipt of this deposit's payments only

A link that is unknown (404) or expired (410) shows one plain sentence and nothing else.
Every request counts against its address (60 a minute), each Pay against its address
(10 an hour, in this process) and its link (PUSHES_PER_HOUR, in the database).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from handlers.web._render import render, services
from handlers.web._security import prepare_stream
from models import Deposit
from services.checkout import (
    CheckoutService,
    CheckoutView,
    LinkNotValid,
    NothingToPay,
    State,
    TooMany,
)
from services.errors import CallsheetError, NotFound
from services.ids import parse_id
from services.money import MAX_AMOUNT
from services.phones import display_phone

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

STREAM_SECONDS = 300  # one event stream's life; EventSource reconnects by itself
POLL_SECONDS = 1.0  # how often a stream looks at the deposit's payments
HEARTBEAT_SECONDS = 15.0
GONE = "This link has expired or is not valid."


def _checkout(request: web.Request) -> CheckoutService:
    checkout = services(request).checkout
    if checkout is None:  # M-Pesa is off: no link can work
        raise _gone(request, expired=False)
    return checkout


def _address(request: web.Request) -> str:
    from bot.web import client_ip  # bot.web builds the app from these modules

    proxies = services(request).settings.daraja_trusted_proxies
    return client_ip(request, proxies) or "unknown"


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _gone(request: web.Request, *, expired: bool) -> web.HTTPException:
    kind = web.HTTPGone if expired else web.HTTPNotFound
    if _wants_json(request):
        return kind(text=json.dumps({"error": GONE}), content_type="application/json")
    page = render(request, "checkout_gone.html.j2", status=kind.status_code)
    return kind(text=page.text, content_type="text/html")


def _too_many(request: web.Request, message: str) -> web.HTTPException:
    if _wants_json(request):
        return web.HTTPTooManyRequests(
            text=json.dumps({"error": message}), content_type="application/json"
        )
    return web.HTTPTooManyRequests(text=message, content_type="text/plain")


async def _deposit(request: web.Request) -> tuple[CheckoutService, Deposit]:
    checkout = _checkout(request)
    try:
        checkout.count_request(_address(request))
        return checkout, await checkout.find(request.match_info["token"])
    except TooMany as exc:
        raise _too_many(request, str(exc)) from exc
    except LinkNotValid as exc:
        raise _gone(request, expired=exc.expired) from exc


def _context(request: web.Request, view: CheckoutView, **extra: Any) -> dict[str, Any]:
    token = request.match_info["token"]
    line = view.current
    return {
        "view": view,
        "State": State,
        "base": f"/pay/{token}",
        # Empty for an invoice until the client first pays: they type it.
        "phone": display_phone(view.deposit.phone) if view.deposit.phone else "",
        "line_max": MAX_AMOUNT,
        "due_now": line is not None and line.instalment.due_at <= view.now,
        "error": None,
        **extra,
    }


def _payload(request: web.Request, view: CheckoutView, **extra: Any) -> dict[str, Any]:
    fragment = render(request, "checkout_body.html.j2", **_context(request, view, **extra))
    return {"key": view.key, "state": view.state.value, "html": fragment.text}


@routes.get("/pay/{token}")
async def page(request: web.Request) -> web.Response:
    checkout, deposit = await _deposit(request)
    view = await checkout.view(deposit)
    return render(request, "checkout.html.j2", **_context(request, view))


@routes.post("/pay/{token}")
async def pay(request: web.Request) -> web.Response:
    checkout, deposit = await _deposit(request)
    form = await request.post()
    phone = str(form.get("phone", "")).strip()[:40]
    try:
        checkout.count_push(_address(request))
        view = await checkout.pay(deposit, phone or None)
    except CallsheetError as exc:
        status = 429 if isinstance(exc, TooMany) else 409 if isinstance(exc, NothingToPay) else 400
        log.info("checkout %s: pay refused (%s)", deposit.id, type(exc).__name__)
        if _wants_json(request):
            return web.json_response({"error": str(exc)}, status=status)
        view = await checkout.view(deposit)
        return render(
            request,
            "checkout.html.j2",
            status=status,
            **_context(request, view, error=str(exc), phone=phone),
        )
    if _wants_json(request):
        return web.json_response(_payload(request, view))
    raise web.HTTPSeeOther(f"/pay/{request.match_info['token']}")


@routes.get("/pay/{token}/status")
async def status(request: web.Request) -> web.Response:
    checkout, deposit = await _deposit(request)
    return web.json_response(_payload(request, await checkout.view(deposit)))


@routes.get("/pay/{token}/events")
async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the state now, then each change, looked for every second (any
    instance may settle the payment, so the database is what is watched)."""
    checkout, deposit = await _deposit(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    prepare_stream(response, request)
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    started = last_write = loop.time()
    view = None
    try:
        await response.write(b"retry: 2000\n\n")
        while loop.time() - started < STREAM_SECONDS and not checkout.closing.is_set():
            if view is None or await checkout.changed(view):  # one query when nothing did
                key = view.key if view else None
                view = await checkout.view(deposit)
                if view.key != key:
                    data = json.dumps(_payload(request, view))
                    await response.write(f"data: {data}\n\n".encode())
                    last_write = loop.time()
            if loop.time() - last_write >= HEARTBEAT_SECONDS:
                # An event, not a comment: the page sees it, and falls back to polling when
                # a proxy holds the stream back and nothing arrives for a while.
                await response.write(b"event: ping\ndata: \n\n")
                last_write = loop.time()
            await checkout.wait_for_change(POLL_SECONDS)
    except ConnectionResetError:
        pass  # the page was closed
    return response


@routes.get("/pay/{token}/receipt/{payment}.pdf")
async def receipt(request: web.Request) -> web.Response:
    checkout, deposit = await _deposit(request)
    payment_id = parse_id(request.match_info["payment"])
    try:
        if payment_id is None:
            raise NotFound("There is no such receipt.")
        pdf = await checkout.receipt_pdf(deposit, payment_id)
    except NotFound as exc:
        raise web.HTTPNotFound(text=str(exc), content_type="text/plain") from exc
    return web.Response(
        body=pdf.data,
        content_type=pdf.content_type,
        headers={"Content-Disposition": f'inline; filename="{pdf.filename}"'},
    )
