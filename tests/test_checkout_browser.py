# ruff: noqa: F811  (fixtures are imported from the helpers, then used)
"""The client checkout in a real browser (Debian's Chromium): the client presses Pay as a
person would, and the Daraja sandbox's callbacks move the page from waiting to paid. Each
page's screenshot lands in build/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.async_api import Page, Route, expect

from bot.app import Callsheet
from models import Payment
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.browser_helpers import browser, page, page_weight, shot  # noqa: F401  (fixtures)
from tests.checkout_helpers import office, path
from tests.conftest import People
from tests.payments_helpers import app, daraja, tg  # noqa: F401  (fixtures)

BUDGET = 150 * 1024
CLIENT = "254712345678"


async def test_a_client_pays_a_deposit_and_the_page_goes_from_waiting_to_paid(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, page: Page
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    await page.goto(link)
    weight = await page_weight(page)
    assert weight < BUDGET, f"first load {weight / 1024:.1f} KB"
    checkout = page.locator("#checkout")
    await expect(checkout).to_contain_text("Harusi ya Wanjiru")
    await expect(checkout).to_contain_text("Due now: KES 60,000")
    await expect(page.locator("header.top")).to_contain_text("Sauti Sound")
    await shot(page, "ready")

    daraja.next_outcome(CLIENT, Outcome.HOLD)
    await page.get_by_role("button", name="Pay KES 60,000").click()
    await expect(page.locator("#status")).to_contain_text(
        "Check your phone and enter your M-Pesa PIN"
    )
    await expect(page.get_by_role("button")).to_have_count(0)  # no second prompt offered
    await shot(page, "waiting")

    payment = await Payment.get(id=1)
    assert payment.checkout_request_id is not None
    await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)  # Daraja's callback
    status = page.locator("#status")
    await expect(status).to_contain_text("Paid in full: KES 60,000")
    await expect(status).to_contain_text("Receipt R-2026-000001")
    pdf = page.get_by_role("link", name="Receipt (PDF)")
    assert await pdf.get_attribute("href") == path(link) + "/receipt/1.pdf"
    assert len(daraja.pushes) == 1


async def test_a_cancelled_prompt_then_try_again_succeeds(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, page: Page
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    await page.goto(link)
    daraja.next_outcome(CLIENT, Outcome.CANCELLED)
    await page.get_by_label("M-Pesa number").fill("0712345678")
    await page.get_by_role("button", name="Pay KES 60,000").click()
    status = page.locator("#status")
    await expect(status).to_contain_text("Not paid. You cancelled the prompt.")
    await shot(page, "cancelled")
    await page.get_by_role("button", name="Try again").click()
    await expect(status).to_contain_text("Paid in full: KES 60,000")
    await expect(status).to_contain_text("Receipt R-2026-000001")
    assert len(daraja.pushes) == 2


async def test_an_instalment_plans_second_payment_goes_out_on_its_date(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    clock: ManualClock,
    page: Page,
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 100000 | 3")
    await page.goto(link)
    schedule = page.locator("table.schedule")
    await expect(schedule).to_contain_text("Wed 23 Dec, 10:00")
    await page.get_by_role("button", name="Pay KES 33,334").click()
    await expect(page.locator("#checkout")).to_contain_text("Paid so far: KES 33,334")
    await expect(page.locator("#checkout")).to_contain_text("Next: KES 33,333, due Wed 23 Dec")

    clock.set(datetime(2026, 12, 23, 7, 0, tzinfo=UTC))  # 10:00 in Nairobi
    assert app.services is not None and app.services.checkout is not None
    assert await app.services.checkout.push_due() == 1  # what the checkout worker does
    await expect(page.locator("#checkout")).to_contain_text("Paid so far: KES 66,667")
    rows = schedule.locator("tbody tr.paid")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(1)).to_contain_text("R-2026-000002")
    await shot(page, "second-paid")
    assert [p.body["Amount"] for p in daraja.pushes] == [33334, 33333]


async def test_without_server_sent_events_the_page_polls_and_still_shows_the_payment(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, page: Page
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")

    async def refuse(route: Route) -> None:  # a proxy that does not pass event streams
        await route.fulfill(status=503, body="no streams here")

    await page.route(re.compile(r".*/events$"), refuse)
    await page.goto(link)
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    await page.get_by_role("button", name="Pay KES 60,000").click()
    await expect(page.locator("#status")).to_contain_text("Check your phone")
    payment = await Payment.get(id=1)
    assert payment.checkout_request_id is not None
    await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
    await expect(page.locator("#status")).to_contain_text("Receipt R-2026-000001")


async def test_a_stream_a_proxy_holds_back_gives_way_to_polling(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, page: Page
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    held: list[Route] = []

    async def hold(route: Route) -> None:  # a buffering proxy: the stream opens, nothing comes
        held.append(route)

    await page.clock.install()
    await page.route(re.compile(r".*/events$"), hold)
    await page.goto(link)
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    await page.get_by_role("button", name="Pay KES 60,000").click()
    await expect(page.locator("#status")).to_contain_text("Check your phone")
    payment = await Payment.get(id=1)
    assert payment.checkout_request_id is not None
    await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
    await page.clock.run_for(30_000)  # heard nothing yet, but not for long: still listening
    await expect(page.locator("#status")).to_contain_text("Check your phone")
    await page.clock.run_for(20_000)  # 50 s of silence: it asks /status instead
    await expect(page.locator("#status")).to_contain_text("Receipt R-2026-000001")
    assert held  # the page did try the stream first
    await shot(page, "paid-by-polling")


async def test_pays_answer_arriving_after_the_stream_said_paid_does_not_leave_it_waiting(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, page: Page
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    status = page.locator("#status")

    async def slow_answer(route: Route) -> None:
        """Pay's answer (waiting) held back until the stream has said paid, as a slow network
        can deliver them."""
        if route.request.method != "POST":
            await route.continue_()
            return
        answer = await route.fetch()
        payment = await Payment.get(id=1)
        assert payment.checkout_request_id is not None
        await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
        await expect(status).to_contain_text("Paid in full: KES 60,000")
        await route.fulfill(response=answer)

    await page.route(re.compile(r".*/pay/[^/]+$"), slow_answer)
    async with page.expect_request(re.compile(r".*/events$")) as first:
        await page.goto(link)
    await first.value
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    # The late answer said "waiting": the page opens its stream again (the first one closed
    # once all was paid), whose first event shows it paid.
    async with page.expect_request(re.compile(r".*/events$"), timeout=10_000) as again:
        await page.get_by_role("button", name="Pay KES 60,000").click()
    await again.value
    await expect(status).to_contain_text("Paid in full: KES 60,000")
    await expect(status).to_contain_text("Receipt R-2026-000001")
    assert len(daraja.pushes) == 1
