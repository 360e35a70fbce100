"""The web pages: the Telegram Mini App (/app/) and the client checkout (/pay/<token>).

miniapp.py     the shell and its home fragment
board.py       the managers' week, an event's page, the charts (_svg.py draws them)
money.py       balances, payments, pay sheets and refunds to approve, reconciliations
crew.py        a crew member's events to answer, balance, payslips, receipts
checkout.py    the client checkout: /pay/<token>, its live status, its receipts
_refusals.py   a service's refusal as an HTTP status and its message
_auth.py       who is asking (Telegram's initData, checked by services/webapp)
_render.py     jinja2 over templates/web/, static URLs with content hashes
_security.py   CSP and the other headers on every answer
static/        the only scripts and styles the pages load (no CDN, no build step)
"""

from __future__ import annotations

from aiohttp import web

from bot.container import Services
from handlers.web import board, checkout, crew, miniapp, money
from handlers.web._render import PAGES, STATIC, page_renderer

PAGE_MODULES = (miniapp, board, money, crew, checkout)


def add_pages(app: web.Application, services: Services) -> None:
    app[PAGES] = page_renderer(services)
    app.router.add_static("/static/", STATIC, append_version=False)
    for module in PAGE_MODULES:
        app.add_routes(module.routes)
