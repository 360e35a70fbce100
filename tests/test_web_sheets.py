# ruff: noqa: F811  (fixtures are imported from the helpers, then used)
"""Pay sheets in the board: reviewed line by line and approved through services/payroll, by
the chat's rules (two approvals: not the one who submitted), with the chat's live sheet
message edited by the approval."""

from __future__ import annotations

import pytest

from bot.app import Callsheet
from models import PaySheet, PaySheetStatus
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import People
from tests.event_setup import said
from tests.payroll_helpers import gig, press_and_answer, sheet_message, tg  # noqa: F401
from tests.test_payroll_approval import app  # noqa: F401  (a fixture with app_settings)
from tests.web_helpers import web_client


async def submitted(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> tuple[SandboxUser, int]:
    """Event #1's sheet submitted from the chat (Jane deducted 800); the sheet's message."""
    boss, _, _ = await gig(app, tg, people, clock)
    await said(tg, boss, "/rates sound engineer | 3500", "KES 3,500")
    await said(tg, boss, "/rates lights | 3000", "KES 3,000")
    await said(tg, boss, "/payroll 1 | Jane | deduct 800", "Net KES 2,700")
    sheet = await sheet_message(tg, boss, "owes 800, deduct 800")  # the live sheet message
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    await sheet_message(tg, boss, "⏳ Submitted by", message_id=sheet["message_id"])
    return boss, int(sheet["message_id"])


async def test_a_sheet_approved_in_the_board_changes_the_chats_sheet(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, message_id = await submitted(app, tg, people, clock)
    async with web_client(app, boss.id) as client:
        waiting = (await client.get("/app/view/sheets")).text
        assert "#1 Harusi ya Wanjiru" in waiting and "Version 1 · submitted · 2 to pay" in waiting
        assert "KES 5,700" in waiting
        page = (await client.get("/app/view/sheet/1")).text
        assert "Jane Wanjiku" in page and "sound engineer · KES 3,500 · owes KES 800" in page
        assert '<td class="num">800</td><td class="num"><b>2,700</b></td>' in page
        assert "Otieno Kamau" in page and "Ivy" not in page
        assert "Total · 2 to pay" in page and "KES 5,700" in page
        assert 'data-post="/app/act/sheet/1/approve"' in page
        done = await client.post("/app/act/sheet/1/approve")
        assert done.status_code == 200, done.text
        assert "✅ Approved version 1" in done.text
        assert 'data-post="/app/act/sheet/1/approve"' not in done.text
        again = await client.post("/app/act/sheet/1/approve")
        assert again.status_code == 409
        assert again.text == "Version 1 is already approved by Achieng Otieno."
        missing = await client.get("/app/view/sheet/9")
        assert missing.status_code == 404 and "There is no pay sheet #9." in missing.text
    # The manager's sheet message in the chat is the one edited: approved, Pay now.
    edited = await sheet_message(tg, boss, "✅ Approved by Achieng Otieno", message_id=message_id)
    buttons = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
    assert "Pay now" in buttons and "Approve" not in buttons
    assert (await PaySheet.get(id=1)).status is PaySheetStatus.APPROVED


@pytest.mark.app_settings(payroll_approvals=2)
async def test_with_two_approvals_the_submitter_cannot_approve_in_the_board(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, message_id = await submitted(app, tg, people, clock)
    _, wambui = await people.add("Wambui Njeri", "0700 000 002", manager=True)
    async with web_client(app, boss.id) as client:
        page = (await client.get("/app/view/sheet/1")).text
        assert "You submitted this sheet: another manager must approve it." in page
        assert 'data-post="/app/act/sheet/1/approve"' not in page
        refused = await client.post("/app/act/sheet/1/approve")
        assert refused.status_code == 403
        assert refused.text == (
            "You submitted this sheet: another manager must approve it (PAYROLL_APPROVALS=2)."
        )
    assert (await PaySheet.get(id=1)).status is PaySheetStatus.SUBMITTED
    async with web_client(app, wambui.id) as client:
        done = await client.post("/app/act/sheet/1/approve")
        assert done.status_code == 200 and "✅ Approved version 1" in done.text
        assert "Approved by Wambui Njeri" in done.text
    # As when she approves in the chat: the submitter is told, her sheet shows it approved.
    await tg.wait_for_bot_message(boss.id, "✅ Wambui Njeri approved the pay sheet of #1")
    await sheet_message(tg, wambui, "✅ Approved by Wambui Njeri")
    # The sheet message the submitter pressed Submit on shows it approved too.
    await sheet_message(tg, boss, "✅ Approved by Wambui Njeri", message_id=message_id)
