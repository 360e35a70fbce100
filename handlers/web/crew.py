"""A crew member's own page in the Mini App: events to answer (Confirm / Decline through
`AssignmentService.respond`, the chat buttons' path: the same rules, the call time included,
and the manager told the same way), balance, payslips and receipts."""

from __future__ import annotations

from aiohttp import web

from handlers.web._auth import viewer
from handlers.web._refusals import number, refusals
from handlers.web._render import render, services
from models import PayoutStatus, Person
from services.assignments import Answer, clean_reason
from services.board import crew_page

routes = web.RouteTableDef()


async def crew_home(request: web.Request, person: Person, done: str = "") -> web.Response:
    """/app/view/home for crew (and /app/view/me for anyone: a manager's own jobs)."""
    found = services(request)
    page = await crew_page(person, found.clock.now(), found.settings.tz)
    return render(request, "crew/home.html.j2", page=page, done=done, PayoutStatus=PayoutStatus)


@routes.get("/app/view/me")
@refusals
async def me(request: web.Request) -> web.Response:
    return await crew_home(request, await viewer(request))


@routes.post(r"/app/act/answer/{id:\d+}/{answer:confirm|decline}")
@refusals
async def answer(request: web.Request) -> web.Response:
    person = await viewer(request)
    found = services(request)
    assignment_id = number(request)
    confirm = request.match_info["answer"] == "confirm"
    typed = str((await request.post()).get("reason", ""))
    # A reason that cannot be kept is refused before the answer is recorded.
    reason = clean_reason(typed) if not confirm and typed.strip() else ""
    result = await found.assignments.respond(
        assignment_id, Answer.CONFIRM if confirm else Answer.DECLINE, person=person, chat_id=None
    )
    title = result.event.title
    if not result.changed:
        done = f"You already {result.assignment.status.value} {title}."
    elif confirm:
        done = f"✅ Confirmed {title}. Thank you!"
    else:
        # The chat asks why in a message of its own; here the reason came with the answer.
        if reason:
            await found.assignments.give_reason(assignment_id, reason, person=person, chat_id=None)
        else:
            await found.assignments.skip_reason(assignment_id, person=person)
        done = f"❌ Declined {title}." + (" Your reason was sent." if reason else "")
    return await crew_home(request, person, done)
