"""The board's money pages: balances, payments with filters, pay sheets to review and
approve, refunds to approve or reject, reconciliations. Approving calls the same service as
the chat's button, so the chat's live sheet or refund card changes with it."""

from __future__ import annotations

from aiohttp import web

from handlers.web._auth import manager
from handlers.web._refusals import number, refusals
from handlers.web._render import render, services
from models import PaySheetStatus, Person
from services.board import (
    parse_filter,
    payments,
    reconciliations,
    refunds_waiting,
    sheet_review,
    sheets_to_review,
)
from services.refunds import RefundsOff

routes = web.RouteTableDef()

REFUNDS_OFF = (
    "M-Pesa payments are not set up on this bot yet, so there is nothing to refund. "
    "An admin must add the Daraja settings."
)


@routes.get("/app/view/money")
@refusals
async def money(request: web.Request) -> web.Response:
    person = await manager(request)
    found = services(request)
    return render(
        request,
        "board/money.html.j2",
        owing=await found.ledger.balances(person),
        sheets=await sheets_to_review(person),
        refunds=await refunds_waiting(person),
        reconciliations=await reconciliations(person),
        tab="money",
    )


@routes.get("/app/view/payments")
@refusals
async def payments_page(request: web.Request) -> web.Response:
    person = await manager(request)
    query = request.query
    wanted = await parse_filter(
        query.get("status", ""), query.get("month", ""), query.get("person", "")
    )
    shown = await payments(person, wanted, services(request).settings.tz)
    return render(request, "board/payments.html.j2", shown=shown, tab="payments")


@routes.get("/app/view/sheets")
@refusals
async def sheets(request: web.Request) -> web.Response:
    person = await manager(request)
    return render(
        request, "board/sheets.html.j2", sheets=await sheets_to_review(person), tab="sheets"
    )


async def _sheet(request: web.Request, person: Person, done: str = "") -> web.Response:
    found = services(request)
    review = await sheet_review(person, number(request), found.payroll.approvals)
    if review is None:
        raise web.HTTPNotFound(
            text=f"There is no pay sheet #{number(request)}.", content_type="text/plain"
        )
    return render(
        request,
        "board/sheet.html.j2",
        review=review,
        person=person,
        done=done,
        tab="sheets",
        PaySheetStatus=PaySheetStatus,
    )


@routes.get(r"/app/view/sheet/{id:\d+}")
@refusals
async def sheet(request: web.Request) -> web.Response:
    return await _sheet(request, await manager(request))


@routes.post(r"/app/act/sheet/{id:\d+}/approve")
@refusals
async def approve_sheet(request: web.Request) -> web.Response:
    """Approve, by the chat's rules (PAYROLL_APPROVALS=2: not the one who submitted); the
    service queues the edit of the manager's live sheet message in the same transaction."""
    person = await manager(request)
    found = services(request)
    approved = await found.payroll.approve(person, number(request))
    found.outbox.wake()
    return await _sheet(
        request, person, f"✅ Approved version {approved.version}: ready to pay from the chat."
    )


@routes.get("/app/view/refunds")
@refusals
async def refunds(request: web.Request) -> web.Response:
    person = await manager(request)
    return await _refunds(request, person)


async def _refunds(request: web.Request, person: Person, done: str = "") -> web.Response:
    found = services(request)
    return render(
        request,
        "board/refunds.html.j2",
        refunds=await refunds_waiting(person),
        on=found.refunds is not None,
        approvals=found.payroll.approvals,
        person=person,
        done=done,
        tab="money",
    )


@routes.post(r"/app/act/refund/{id:\d+}/{decision:approve|reject}")
@refusals
async def decide_refund(request: web.Request) -> web.Response:
    person = await manager(request)
    found = services(request)
    if found.refunds is None:
        raise RefundsOff(REFUNDS_OFF)
    if request.match_info["decision"] == "approve":
        refund = await found.refunds.approve(person, number(request))
        done = f"✅ Refund #{refund.id} approved: it is being sent."
    else:
        refund = await found.refunds.reject(person, number(request))
        done = f"Refund #{refund.id} {refund.status.value}: nothing was sent."
    found.outbox.wake()
    return await _refunds(request, person, done)


@routes.get("/app/view/reconciliations")
@refusals
async def reconciliations_page(request: web.Request) -> web.Response:
    person = await manager(request)
    return render(
        request,
        "board/reconciliations.html.j2",
        reconciliations=await reconciliations(person),
        tab="money",
    )
