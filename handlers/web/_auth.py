"""Who is asking (provisional: the lead's foundation replaces this)."""

from __future__ import annotations

from aiohttp import web

from bot.container import Services


def services(request: web.Request) -> Services:
    from bot.web import SERVICES  # bot.web builds the app from these modules

    return request.app[SERVICES]
