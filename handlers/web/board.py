"""The managers' board in the Mini App: the week with its gaps, an event's page, the charts.
Money has its own module (money.py). Every endpoint answers 401 without Telegram's initData
and 403 to crew (`manager`)."""

from __future__ import annotations

from aiohttp import web

from handlers.web._auth import manager
from handlers.web._refusals import number, refusals
from handlers.web._render import render, services
from handlers.web._svg import money_bars, rate_bars, reliability_bars
from models import AssignmentStatus, Person
from services.board import charts, parse_offset, week

routes = web.RouteTableDef()

ROSTER_ORDER = (
    AssignmentStatus.CONFIRMED,
    AssignmentStatus.INVITED,
    AssignmentStatus.DECLINED,
    AssignmentStatus.COMPLETED,
    AssignmentStatus.CANCELLED,
)


async def board_home(request: web.Request, person: Person) -> web.Response:
    """/app/view/home for a manager: this week."""
    found = services(request)
    shown = await week(
        person, found.clock.now(), found.settings.tz, parse_offset(request.query.get("week"))
    )
    return render(request, "board/week.html.j2", person=person, week=shown, tab="week")


@routes.get("/app/view/board")
@refusals
async def board(request: web.Request) -> web.Response:
    return await board_home(request, await manager(request))


@routes.get(r"/app/view/event/{id:\d+}")
@refusals
async def event_page(request: web.Request) -> web.Response:
    return await _event(request, await manager(request))


async def _event(request: web.Request, person: Person) -> web.Response:
    found = services(request)
    event_id = number(request)
    card = await found.events.card(event_id, actor=person)
    documents = await found.eventdocs.of_event(event_id)
    return render(
        request,
        "board/event.html.j2",
        card=card,
        documents=documents,
        order=[s for s in ROSTER_ORDER if card.by_status.get(s)],
        tab="week",
    )


@routes.post(r"/app/act/event/{id:\d+}/backups/{turn:on|off}")
@refusals
async def backups(request: web.Request) -> web.Response:
    """Auto backups on or off, as the card's button does; the event's page again."""
    person = await manager(request)
    found = services(request)
    on = request.match_info["turn"] == "on"
    await found.events.set_auto_backups(number(request), on, actor=person, chat_id=None)
    return await _event(request, person)


@routes.get("/app/view/charts")
@refusals
async def charts_page(request: web.Request) -> web.Response:
    person = await manager(request)
    shown = await charts(person, services(request).stats)
    return render(
        request,
        "board/charts.html.j2",
        charts=shown,
        money=money_bars(shown.report),
        rates=rate_bars(shown.report),
        people=reliability_bars(shown.people),
        tab="charts",
    )
