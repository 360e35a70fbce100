"""The Mini App's shell (/app/) and its home fragment, which sends managers to the board and
crew to their own page. The shell carries no data: everything comes in fragments fetched with
the initData header (static/app.js)."""

from __future__ import annotations

from aiohttp import web

from handlers.web._auth import viewer
from handlers.web._refusals import refusals
from handlers.web._render import render
from handlers.web.board import board_home
from handlers.web.crew import crew_home

routes = web.RouteTableDef()


@routes.get("/app")
async def app_without_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/app/")


@routes.get("/app/")
async def shell(request: web.Request) -> web.Response:
    return render(request, "app.html.j2")


@routes.get("/app/view/home")
@refusals
async def home(request: web.Request) -> web.Response:
    """Managers get the board's week, crew their own page (the role as the database says)."""
    person = await viewer(request)
    if person.is_manager:
        return await board_home(request, person)
    return await crew_home(request, person)
