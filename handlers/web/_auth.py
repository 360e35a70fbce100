"""Who is asking: the Mini App sends Telegram's initData with every request, in the header
`Authorization: tma <initData>`. The person and their role are read from the database each
time, so a manager turned crew, or deactivated, loses the board on the next tap."""

from __future__ import annotations

import logging

from aiohttp import web

from handlers.web._render import services
from models import Person
from services.webapp import InvalidInitData, check_init_data

log = logging.getLogger(__name__)

SCHEME = "tma "
NOT_FROM_TELEGRAM = "Open this from the bot's menu in Telegram. This link alone shows nothing."


def _refusal(status: type[web.HTTPException], text: str) -> web.HTTPException:
    return status(text=text, content_type="text/plain")


async def viewer(request: web.Request) -> Person:
    """The linked, active person Telegram vouches for; 401 for anyone else."""
    header = request.headers.get("Authorization", "")
    if not header.startswith(SCHEME):
        raise _refusal(web.HTTPUnauthorized, NOT_FROM_TELEGRAM)
    found = services(request)
    token = found.settings.require_bot_token()
    try:
        data = check_init_data(header[len(SCHEME) :], token, now=found.clock.now())
    except InvalidInitData as exc:
        log.info("web request refused: %s (%s %s)", exc, request.method, request.path)
        raise _refusal(web.HTTPUnauthorized, f"{NOT_FROM_TELEGRAM} (Refused: {exc}.)") from exc
    person = await Person.get_or_none(telegram_id=data.user_id, active=True)
    if person is None:
        raise _refusal(
            web.HTTPUnauthorized,
            "This Telegram account is not linked to anyone here. Ask a manager for your link.",
        )
    return person


async def manager(request: web.Request) -> Person:
    """A manager, or 403: crew see their own page, never the board."""
    person = await viewer(request)
    if not person.is_manager:
        raise _refusal(web.HTTPForbidden, "Only managers can see this.")
    return person
