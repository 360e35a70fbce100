# ruff: noqa: F811  (fixtures are imported from the helpers, then used)
"""The board and My gigs in a real browser (Debian's Chromium), opened as Telegram opens them,
pressed as a person would: a manager approves a pay sheet and the chat's live sheet message
changes; crew confirm and the manager is told; the board's pages stay under 150 KB."""

from __future__ import annotations

from playwright.async_api import Page, expect

from bot.app import Callsheet
from models import Assignment, AssignmentStatus
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.browser_helpers import (  # noqa: F401  (browser and page are fixtures)
    browser,
    dialogs,
    open_mini_app,
    page,
    page_weight,
    shot,
    signed_for,
)
from tests.conftest import People
from tests.event_setup import crew_and_event, said
from tests.payroll_helpers import gig, press_and_answer, sheet_message, tg  # noqa: F401
from tests.web_helpers import base_url

BUDGET = 150 * 1024


async def test_a_manager_approves_a_pay_sheet_in_the_board_and_the_chat_changes(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, page: Page
) -> None:
    boss, _, _ = await gig(app, tg, people, clock)
    await said(tg, boss, "/rates sound engineer | 3500", "KES 3,500")
    await said(tg, boss, "/rates lights | 3000", "KES 3,000")
    await said(tg, boss, "/payroll 1 | Jane | deduct 800", "Net KES 2,700")
    sheet = await sheet_message(tg, boss, "owes 800, deduct 800")
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    await sheet_message(tg, boss, "⏳ Submitted by", message_id=sheet["message_id"])

    await open_mini_app(page, base_url(app), signed_for(app, boss))
    view = page.locator("#view")
    await expect(view).to_contain_text("Hello, Achieng Otieno")
    await page.get_by_role("link", name="Pay sheets", exact=True).first.click()
    await expect(view).to_contain_text("Version 1 · submitted · 2 to pay")
    await page.get_by_role("link", name="#1 Harusi ya Wanjiru").click()
    await expect(view).to_contain_text("Total · 2 to pay")
    await expect(view).to_contain_text("KES 5,700")
    await shot(page, "sheet")
    await page.get_by_role("button", name="Approve").click()
    await expect(view).to_contain_text("✅ Approved version 1: ready to pay from the chat.")
    await expect(page.locator("#sheet-status")).to_have_text("approved")
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert dialogs(page) == ["Approve KES 5,700 for 2 crew?"]
    # The chat's sheet message, edited in place: approved, and Pay now instead of Approve.
    edited = await sheet_message(
        tg, boss, "✅ Approved by Achieng Otieno", message_id=sheet["message_id"]
    )
    labels = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
    assert "Pay now" in labels and "Approve" not in labels
    # The sheet's Open board (https only, so not in this chat) opens the Mini App on the sheet.
    await open_mini_app(
        page, base_url(app), signed_for(app, boss), path="/app/?view=/app/view/sheet/1"
    )
    await expect(view).to_contain_text("Pay sheet · #1 Harusi ya Wanjiru")
    await expect(page.locator("#sheet-status")).to_have_text("approved")


async def test_crew_confirm_in_the_page_and_the_manager_is_told(
    app: Callsheet, tg: TelegramSandbox, people: People, page: Page
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | sound engineer", "invited to")
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")

    await open_mini_app(page, base_url(app), signed_for(app, jane))
    view = page.locator("#view")
    await expect(view).to_contain_text("Hello, Jane")
    await expect(view).to_contain_text("⏳ Waiting for your answer")
    await shot(page, "invited")
    await page.get_by_role("button", name="Confirm").click()
    await expect(view).to_contain_text("✅ Confirmed Harusi ya Wanjiru. Thank you!")
    await expect(view).to_contain_text("✅ You confirmed")
    tally = await tg.wait_for_bot_message(boss.id, "✅ Jane Wanjiku confirmed · sound engineer")
    assert "Harusi ya Wanjiru" in tally["text"]
    await tg.wait_for_bot_message(jane.id, "You confirmed", message_id=invitation["message_id"])

    # Otieno declines with a reason, typed in the page.
    await open_mini_app(page, base_url(app), signed_for(app, otieno))
    await expect(view).to_contain_text("Hello, Otieno")
    await page.get_by_label("Reason for declining").fill("Family wedding")
    await page.get_by_role("button", name="Decline").click()
    await expect(view).to_contain_text("❌ Declined Harusi ya Wanjiru. Your reason was sent.")
    await tg.wait_for_bot_message(boss.id, "❌ Otieno Kamau declined · lights: “Family wedding”")
    assert (await Assignment.get(id=2)).status is AssignmentStatus.DECLINED


async def test_the_boards_pages_stay_under_150_kb(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, page: Page
) -> None:
    boss, _, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    await said(tg, boss, "/record Jane | 2500 | cash | CASH-1", "Recorded")
    await open_mini_app(page, base_url(app), signed_for(app, boss), path="/app/")
    view = page.locator("#view")
    await expect(view).to_contain_text("This week")
    first = await page_weight(page)
    await shot(page, "week")
    assert first < BUDGET, f"first load {first / 1024:.1f} KB"
    for tab, shows in (
        ("Money", "Who owes"),
        ("Payments", "No payments match."),  # cash is recorded, not an M-Pesa payment
        ("Charts", "Money in and out by month"),
    ):
        await page.get_by_role("link", name=tab, exact=True).first.click()
        await expect(view).to_contain_text(shows)
        await shot(page, tab.lower())
    await expect(page.locator("svg.chart")).to_have_count(1)  # no answers in these months yet
    total = await page_weight(page)
    assert total < BUDGET, f"the board and three tabs {total / 1024:.1f} KB"


async def test_a_page_asked_for_in_the_link_is_still_the_servers_to_refuse(
    app: Callsheet, tg: TelegramSandbox, people: People, page: Page
) -> None:
    _, jane, _, _ = await crew_and_event(tg, people)
    view = page.locator("#view")
    # Crew asking for the board in the link: the server says no, as for any request.
    await open_mini_app(
        page, base_url(app), signed_for(app, jane), path="/app/?view=/app/view/board"
    )
    await expect(page.locator("#error")).to_contain_text("Only managers can see this.")
    await expect(view).to_have_text("")
    # Anything but a path of ours is ignored: the home page opens.
    await open_mini_app(
        page, base_url(app), signed_for(app, jane), path="/app/?view=//evil.example/app/view/x"
    )
    await expect(view).to_contain_text("Hello, Jane")
