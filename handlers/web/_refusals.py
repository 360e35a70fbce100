"""A service's refusal as the web answers it: the status its branch of the error tree means
(services/errors.py) and its message as plain text, which the Mini App shows in its banner."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from services.errors import CallsheetError, Conflict, InvalidInput, NotAllowed, NotFound

R = TypeVar("R", bound=web.StreamResponse)

STATUSES: tuple[tuple[type[CallsheetError], type[web.HTTPException]], ...] = (
    (NotAllowed, web.HTTPForbidden),
    (NotFound, web.HTTPNotFound),
    (InvalidInput, web.HTTPBadRequest),
    (Conflict, web.HTTPConflict),
)


def refusal(error: CallsheetError) -> web.HTTPException:
    status: type[web.HTTPException] = web.HTTPConflict  # allowed, but not now
    for branch, answer in STATUSES:
        if isinstance(error, branch):
            status = answer
            break
    return status(text=str(error), content_type="text/plain")


def refusals(
    handler: Callable[[web.Request], Awaitable[R]],
) -> Callable[[web.Request], Awaitable[R]]:
    """The handler, with a service's refusal answered as `refusal` says."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> R:
        try:
            return await handler(request)
        except CallsheetError as exc:
            raise refusal(exc) from exc

    return answer


def number(request: web.Request, name: str = "id") -> int:
    """A row id from the path; 404 for anything else (the route's pattern has digits only)."""
    text = request.match_info[name]
    if not text.isdigit() or len(text) > 9:
        raise web.HTTPNotFound(text="There is no such page.", content_type="text/plain")
    return int(text)
