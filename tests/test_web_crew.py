"""A crew member's own page over real HTTP: Confirm and Decline by the chat buttons' rules
(the manager told the same way, the invitation in the chat edited, refused after the call
time), and their balance, payslips and receipts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import Callsheet
from models import Assignment, AssignmentStatus, Person
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import People
from tests.event_setup import crew_and_event, fast_sandbox, said
from tests.web_helpers import web_client

AFTER_CALL = datetime(2026, 12, 5, 12, 30, tzinfo=UTC)  # 15:30 in Nairobi


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


async def test_crew_confirm_in_the_page_and_the_manager_is_told(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | sound engineer", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    async with web_client(app, jane.id) as client:
        home = (await client.get("/app/view/home")).text
        assert "Hello, Jane" in home and "Harusi ya Wanjiru" in home
        assert "sound engineer · call Sat 5 Dec, 15:00 · KICC, Nairobi" in home
        assert "⏳ Waiting for your answer" in home
        assert 'data-post="/app/act/answer/1/confirm"' in home
        done = await client.post("/app/act/answer/1/confirm")
        assert done.status_code == 200, done.text
        assert "✅ Confirmed Harusi ya Wanjiru. Thank you!" in done.text
        assert "✅ You confirmed" in done.text
        assert 'data-post="/app/act/answer/1/confirm"' not in done.text
        again = await client.post("/app/act/answer/1/confirm")
        assert "You already confirmed Harusi ya Wanjiru." in again.text
    # As when the button is pressed: the manager's tally, and the invitation edited.
    tally = await tg.wait_for_bot_message(boss.id, "✅ Jane Wanjiku confirmed · sound engineer")
    assert "✅ 1 confirmed · ❌ 0 declined · ⏳ 0 waiting" in tally["text"]
    await tg.wait_for_bot_message(jane.id, "You confirmed", message_id=invitation["message_id"])
    assigned = await Assignment.get(id=1)
    assert assigned.status is AssignmentStatus.CONFIRMED and assigned.responded_at is not None


async def test_decline_with_a_reason_reaches_the_manager_and_without_one_asks_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    async with web_client(app, otieno.id) as client:
        long = await client.post("/app/act/answer/2/decline", data={"reason": "x" * 600})
        assert long.status_code == 400 and "keep it under 500" in long.text
        assert (await Assignment.get(id=2)).status is AssignmentStatus.INVITED
        done = await client.post("/app/act/answer/2/decline", data={"reason": " Family  wedding "})
        assert done.status_code == 200
        assert "❌ Declined Harusi ya Wanjiru. Your reason was sent." in done.text
    await tg.wait_for_bot_message(boss.id, "❌ Otieno Kamau declined · lights: “Family wedding”")
    async with web_client(app, jane.id) as client:
        done = await client.post("/app/act/answer/1/decline")
        assert "❌ Declined Harusi ya Wanjiru." in done.text
        someone_elses = await client.post("/app/act/answer/2/confirm")
        assert someone_elses.status_code == 403
        assert someone_elses.text == "This invitation is not yours. Nothing was changed."
    await tg.wait_for_bot_message(boss.id, "❌ Jane Wanjiku declined · rigger")
    # No reason typed in the page: her next chat message is not taken as one.
    await said(tg, jane, "hello", "")
    assert (await Assignment.get(id=1)).decline_reason == ""


async def test_answers_after_the_call_time_are_refused_as_in_the_chat(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    async with web_client(app, jane.id) as client:
        assert (await client.post("/app/act/answer/1/confirm")).status_code == 200
    clock.set(AFTER_CALL)
    async with web_client(app, jane.id) as client:
        page = (await client.get("/app/view/me")).text
        assert "Call time has passed: answers are closed." in page
        assert "data-post" not in page
        late = await client.post("/app/act/answer/1/decline")
    assert late.status_code == 409
    assert late.text == (
        "The call time for Harusi ya Wanjiru (Sat 5 Dec, 15:00) has passed, so answers are "
        "closed. Call Achieng Otieno on +254 700 000 001 if something changed."
    )
    assert (await Assignment.get(id=1)).status is AssignmentStatus.CONFIRMED


async def test_the_crew_page_shows_balance_payslips_and_receipts(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    await said(tg, boss, "/charge Jane | 2000 | lost XLR cable", "KES 2,000")
    await said(tg, boss, "/record Jane | 500 | cash | CASH-7", "Recorded")
    async with web_client(app, jane.id) as client:
        assert (await client.post("/app/act/answer/1/confirm")).status_code == 200
    assert app.services is not None
    payroll = app.services.payroll
    manager = await Person.get(name="Achieng Otieno")
    await payroll.rates.set(manager, None, "rigger", "3000")
    clock.set(AFTER_CALL)
    sheet = await payroll.open(manager, 1)
    await payroll.submit(manager, sheet.id)
    await payroll.approve(manager, sheet.id)
    async with web_client(app, jane.id) as client:
        page = (await client.get("/app/view/me")).text
    assert "The company owes you <b>KES 1,500</b>." in page  # owed 1,500; earned 3,000
    assert "2026: earned KES 3,000, paid by M-Pesa KES 0." in page
    assert 'Harusi ya Wanjiru<br><span class="muted">rigger · Sat 5 Dec, 18:00' in page
    assert 'KES 3,000<br><span class="wait">to be paid</span>' in page
    assert "R-2026-000001" in page and "KES 500" in page
