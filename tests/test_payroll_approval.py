# ruff: noqa: F811  (the sandbox fixture is imported from payroll_helpers, then used)
"""Two approvals, two managers pressing at once, a sheet of 200 crew in pages, and the
sender's claim of queued payouts."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from bot.app import Callsheet
from models import (
    Access,
    AssignmentStatus,
    AuditAction,
    AuditLog,
    Event,
    LedgerEntry,
    LedgerKind,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
    Person,
)
from models.stamps import stamp
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.payroll import claim_payout
from tests.conftest import PG_URL, START, Mailbox, People, app_settings, assert_stamped_by
from tests.event_setup import said
from tests.payroll_helpers import (  # noqa: F401  (tg is a fixture)
    AFTER_CALL,
    approved_sheet,
    assign,
    gig,
    press_and_answer,
    sheet_message,
    tg,
)


@pytest.fixture
async def app(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callsheet]:
    """As conftest's `app`, with the test's `app_settings` mark (PAYROLL_APPROVALS=2)."""
    mark = request.node.get_closest_marker("app_settings")
    settings = app_settings(tg, database_url, smtp_server[1], **(mark.kwargs if mark else {}))
    running = Callsheet(settings, clock=clock)
    await running.start()
    yield running
    try:
        await assert_stamped_by(clock)
    finally:
        await running.stop()


@pytest.mark.app_settings(payroll_approvals=2)
async def test_two_approvals_need_another_manager_than_the_submitter(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, crew, _ = await gig(app, tg, people, clock)
    _, wambui = await people.add("Wambui Njeri", "0700 000 002", manager=True)
    await said(tg, boss, "/rates sound engineer | 3500", "KES 3,500")
    await said(tg, boss, "/rates lights | 3000", "KES 3,000")
    await tg.send_text(boss, "/payroll 1")
    sheet = await sheet_message(tg, boss, "version 1 · draft")
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    sheet = await sheet_message(
        tg, boss, "Another manager must approve it.", message_id=sheet["message_id"]
    )
    answer = await press_and_answer(tg, boss, sheet["message_id"], "Approve")
    assert "You submitted this sheet: another manager must approve it" in answer
    assert (await PaySheet.get(id=1)).status is PaySheetStatus.SUBMITTED
    # The other manager is asked, and approves from their own copy of the sheet.
    await tg.wait_for_bot_message(
        wambui.id, "Achieng Otieno submitted the pay sheet of #1 Harusi ya Wanjiru"
    )
    await tg.send_text(wambui, "/payroll 1")
    theirs = await sheet_message(tg, wambui, "⏳ Submitted by Achieng Otieno")
    assert "✅ Approved" in await press_and_answer(tg, wambui, theirs["message_id"], "Approve")
    await sheet_message(tg, wambui, "✅ Approved by Wambui Njeri", message_id=theirs["message_id"])
    await tg.wait_for_bot_message(boss.id, "✅ Wambui Njeri approved the pay sheet of #1")
    sheet_row = await PaySheet.get(id=1)
    names = {
        p.id: p.name
        for p in await Person.filter(
            id__in=[sheet_row.prepared_by_id, sheet_row.approved_by_id]  # type: ignore[attr-defined]
        )
    }
    assert names[sheet_row.prepared_by_id] == "Achieng Otieno"  # type: ignore[attr-defined]
    assert sheet_row.submitted_by_id == sheet_row.prepared_by_id  # type: ignore[attr-defined]
    assert names[sheet_row.approved_by_id] == "Wambui Njeri"  # type: ignore[attr-defined]
    assert await Payout.filter(status=PayoutStatus.QUEUED).count() == 2
    approved = await AuditLog.get(action=AuditAction.PAYROLL_APPROVED)
    assert approved.actor_label == "Wambui Njeri"
    wages = await LedgerEntry.filter(kind=LedgerKind.WAGE)
    assert crew["jane"][0].id in [e.person_id for e in wages]  # type: ignore[attr-defined]


async def test_two_managers_approving_at_once_approve_once(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, crew, _ = await gig(app, tg, people, clock)
    _, wambui = await people.add("Wambui Njeri", "0700 000 002", manager=True)
    await said(tg, boss, "/rates sound engineer | 3500", "KES 3,500")
    await said(tg, boss, "/rates lights | 3000", "KES 3,000")
    await tg.send_text(boss, "/payroll 1")
    mine = await sheet_message(tg, boss, "version 1 · draft")
    await press_and_answer(tg, boss, mine["message_id"], "Submit")
    mine = await sheet_message(tg, boss, "Submitted", message_id=mine["message_id"])
    await tg.send_text(wambui, "/payroll 1")
    theirs = await sheet_message(tg, wambui, "Submitted")
    answers = await asyncio.gather(
        press_and_answer(tg, boss, mine["message_id"], "Approve"),
        press_and_answer(tg, wambui, theirs["message_id"], "Approve"),
    )
    won = [a for a in answers if a.startswith("✅ Approved")]
    lost = [a for a in answers if "is already approved by" in a]
    assert len(won) == 1 and len(lost) == 1, answers
    assert await Payout.all().count() == 2
    assert await LedgerEntry.filter(kind=LedgerKind.WAGE).count() == 2
    assert await AuditLog.filter(action=AuditAction.PAYROLL_APPROVED).count() == 1
    jane = await Person.get(id=crew["jane"][0].id)
    assert jane.balance == 800 - 3_500
    assert app.services is not None and await app.services.ledger.audit() == []


async def test_a_sheet_of_200_crew_with_long_names_is_paged_never_cut(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, "/newevent Tamasha | 2026-12-05 18:00 | 23:00 | Uhuru Gardens", "created")
    event = await Event.get(id=1)
    long_tail = " Wanjiku-Kamau-Otieno-Achieng-Mwangi-Njoroge-Chebet-Kiprono"
    for n in range(1, 201):
        person = await Person.create(
            **stamp(Person, START),
            name=f"Crew {n:03d}{long_tail}",
            phone=f"+2547{10_000_000 + n:08d}",
            access=Access.CREW,
        )
        await assign(event, person, "stagehand and rigging assistant, night shift")
    await said(tg, boss, "/rates stagehand and rigging assistant, night shift | 2500", "KES 2,500")
    await said(
        tg, boss, "/payroll 1 | Crew 007 | +1000 overtime for the long night", "Net KES 3,500"
    )
    await sheet_message(tg, boss, "+1,000 overtime for the long night")  # the change's copy
    clock.advance(AFTER_CALL)
    sent = await tg.send_text(boss, "/payroll 1")
    sheet = await sheet_message(tg, boss, "200 crew · 200 to pay", after=sent["message_id"])

    assert "Net to pay: KES 501,000" in sheet["text"]
    pages = int(re.search(r"Page 1 of (\d+)", sheet["text"])[1])  # type: ignore[index]
    assert pages > 1
    seen: list[str] = []
    for page in range(1, pages + 1):
        sheet = await sheet_message(
            tg, boss, f"Page {page} of {pages}", message_id=sheet["message_id"]
        )
        assert len(sheet["text"]) <= 4096
        seen += re.findall(r"^Crew (\d{3})", sheet["text"], re.MULTILINE)
        if page < pages:
            await press_and_answer(tg, boss, sheet["message_id"], "Next ›")
    assert sorted(seen) == [f"{n:03d}" for n in range(1, 201)]  # every line once, in order
    await said(tg, boss, "/payroll 1 | Crew 007 | -1000 overtime undone", "Net KES 2,500")
    # The edit shows the page with Crew 007 on it, in the same message.
    edited = await sheet_message(tg, boss, "Page 1 of", message_id=sheet["message_id"])
    assert "Crew 007" in edited["text"] and "−1,000 overtime undone" in edited["text"]
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    await sheet_message(tg, boss, "Submitted", message_id=sheet["message_id"])
    await press_and_answer(tg, boss, sheet["message_id"], "Approve")
    await sheet_message(tg, boss, "✅ Approved", message_id=sheet["message_id"])
    assert await Payout.filter(status=PayoutStatus.QUEUED).count() == 200


async def test_next_on_an_older_copy_of_the_sheet_turns_that_copy(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, "/newevent Tamasha | 2026-12-05 18:00 | 23:00 | Uhuru Gardens", "created")
    event = await Event.get(id=1)
    for n in range(1, 61):
        person = await Person.create(
            **stamp(Person, START),
            name=f"Crew {n:03d}",
            phone=f"+2547{10_000_000 + n:08d}",
            access=Access.CREW,
        )
        await assign(event, person, "stagehand")
    clock.advance(AFTER_CALL)
    first = await tg.send_text(boss, "/payroll 1")
    older = await sheet_message(tg, boss, "Page 1 of", after=first["message_id"])
    again = await tg.send_text(boss, "/payroll 1")
    newer = await sheet_message(tg, boss, "Page 1 of", after=again["message_id"])
    await press_and_answer(tg, boss, older["message_id"], "Next ›")
    turned = await sheet_message(tg, boss, "Page 2 of", message_id=older["message_id"])
    assert "Crew 001" not in turned["text"]
    still = [m for m in tg.bot_messages(boss.id) if m["message_id"] == newer["message_id"]]
    assert "Page 1 of" in still[0]["text"]


async def test_two_claimers_never_get_the_same_payout(app: Callsheet) -> None:

    sheet = await approved_sheet(app, 30)
    assert app.services is not None
    clock = app.services.clock

    async def claimer() -> list[int]:
        got: list[int] = []
        while (payout := await claim_payout(clock)) is not None:
            got.append(payout.id)
        return got

    first, second = await asyncio.gather(claimer(), claimer())
    assert len(first) + len(second) == 30
    assert not set(first) & set(second)
    assert {p.status for p in await Payout.all()} == {PayoutStatus.SENT}
    assert (await PaySheet.get(id=sheet.id)).status is PaySheetStatus.PAYING
    assert await claim_payout(clock) is None


@pytest.mark.skipif(
    not PG_URL,
    reason="FOR UPDATE SKIP LOCKED across connections: PostgreSQL only "
    "(set CALLSHEET_TEST_DATABASE_URL)",
)
async def test_four_claimers_on_postgresql_never_get_the_same_payout(app: Callsheet) -> None:
    await approved_sheet(app, 60)
    assert app.services is not None
    clock = app.services.clock

    async def claimer() -> list[int]:
        got: list[int] = []
        while (payout := await claim_payout(clock)) is not None:
            got.append(payout.id)
        return got

    results = await asyncio.gather(*(claimer() for _ in range(4)))
    claimed = [pid for got in results for pid in got]
    assert len(claimed) == len(set(claimed)) == 60
    assert await Payout.filter(status=PayoutStatus.QUEUED).count() == 0


def test_assignment_status_of_the_sheet_is_confirmed_or_worked() -> None:
    from services.payroll._lines import PAID_STATUSES

    assert set(PAID_STATUSES) == {AssignmentStatus.CONFIRMED, AssignmentStatus.COMPLETED}
