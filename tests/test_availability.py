"""Days off end to end: /off marks, lists and removes them; the crew picker marks people who
are off; /assign of someone off needs "Assign anyway"; and a reminder never goes to someone
who marked the day off after confirming (the manager is told instead, once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Callsheet
from models import Assignment, AuditLog, DayOff, JobKind, JobStatus, OutboxMessage, ScheduledJob
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import Mailbox, People
from tests.event_setup import crew_and_event, fast_sandbox, labels, said

CALL = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # Sat 5 Dec, 15:00 in Nairobi


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


async def test_off_add_list_remove_and_refusals(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    added = await said(tg, jane, "/off 24/12 - 26/12 | family", "You are off")
    assert "You are off 24–26 Dec (family)" in added["text"]
    await said(tg, jane, "/off 5/12", "You are off Sat 5 Dec.")
    await said(tg, jane, "/off 3/1/2027 | safari", "You are off Sun 3 Jan 2027 (safari)")
    # A manager marks their own too.
    await said(tg, boss, "/off tomorrow", "You are off Tue 24 Nov")

    listed = await said(tg, jane, "/off", "Your days off")
    for line in ("🏖 Sat 5 Dec", "🏖 24–26 Dec · family", "🏖 Sun 3 Jan 2027 · safari"):
        assert line in listed["text"], line
    assert "Tue 24 Nov" not in listed["text"]  # the manager's, not hers
    assert labels(listed) == ["Remove Sat 5 Dec", "Remove 24–26 Dec", "Remove Sun 3 Jan 2027"]

    query = await tg.press(jane, listed["message_id"], "Remove 24–26 Dec")
    assert "Removed: 24–26 Dec" in (await tg.wait_for_callback_answer(query))["text"]
    edited = await tg.wait_for(
        lambda: next(
            (
                m
                for m in tg.bot_messages(jane.id)
                if m["message_id"] == listed["message_id"] and "24–26" not in m["text"]
            ),
            None,
        ),
        description="the list without 24–26 Dec",
    )
    assert "🏖 Sat 5 Dec" in edited["text"]
    assert labels(edited) == ["Remove Sat 5 Dec", "Remove Sun 3 Jan 2027"]
    assert await DayOff.filter(person__name="Jane Wanjiku").count() == 2
    assert await AuditLog.filter(action="day_off.removed").count() == 1

    # Refusals say what was wrong and what is expected, and save nothing.
    refusals = {
        "/off 20/11/2026": "is in the past. Days off start today or later.",
        "/off 1/12 - 28/2": "That is 90 days; one /off covers at most 60.",
        "/off 6/12 - 5/12/2026": "is before the first",
        "/off someday": "I could not read the date “someday”",
        "/off 31/2": "“31/2” is not a date in the calendar.",
        "/off 4/12 - 6/12 | busy": "You are already off Sat 5 Dec, which overlaps.",
        "/off 1/12 -": "I could not read the days",
        "/off 31/12/9999": "is more than two years ahead",
    }
    for text, expected in refusals.items():
        refused = await said(tg, jane, text, "❌")
        assert expected in refused["text"], (text, refused["text"])
        assert "Use: /off 24/12 - 26/12 | family" in refused["text"]
    assert await DayOff.filter(person__name="Jane Wanjiku").count() == 2

    # Someone else's day off cannot be removed with a forged press.
    boss_off = await DayOff.get(person__name="Achieng Otieno")
    query = await tg.press_forged(jane, edited["message_id"], f"off:rm:{boss_off.id}")
    assert "not on your list" in (await tg.wait_for_callback_answer(query))["text"]
    assert await DayOff.exists(id=boss_off.id)


async def test_picker_marks_people_off_and_assign_needs_assign_anyway(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await said(tg, jane, "/off 4/12 - 6/12 | family", "You are off")
    await said(tg, otieno, "/off 7/12", "You are off")  # after the event: not marked

    picker_start = await said(tg, boss, "/assign", "Assign crew to which event?")
    await tg.press(boss, picker_start["message_id"], "#1 Harusi")
    picker = await tg.wait_for_bot_message(boss.id, "Who should work")
    assert "🏖 marks people who are off" in picker["text"]
    assert "Jane Wanjiku · sound engineer, rigger · 🏖 off 4–6 Dec" in labels(picker)
    assert "Otieno Kamau · lights" in labels(picker)

    await tg.press(boss, picker["message_id"], "Jane Wanjiku")
    warning = await tg.wait_for_bot_message(boss.id, "Assign anyway?")
    assert "Jane Wanjiku is off 4–6 Dec (family)" in warning["text"]
    assert not await Assignment.exists(person__name="Jane Wanjiku")

    # The typed /assign warns too, and nothing is made until Assign anyway.
    warned = await said(tg, boss, "/assign 1 | 0712345678 | rigger", "Assign anyway?")
    assert "Jane Wanjiku is off 4–6 Dec (family), during Harusi ya Wanjiru" in warned["text"]
    assert labels(warned) == ["Assign anyway"]
    assert not await Assignment.exists(person__name="Jane Wanjiku")
    await tg.press(boss, warned["message_id"], "Assign anyway")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku invited to", after=warned["message_id"])
    await tg.wait_for_bot_message(jane.id, "Invitation")
    a = await Assignment.get(person__name="Jane Wanjiku")
    log = await AuditLog.get(action="assignment.invited", subject_id=a.id)
    assert log.details["despite_day_off"] is not None

    # Otieno is off the day after: the typed /assign goes straight through.
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "Otieno Kamau invited to")


async def test_reminder_skipped_for_someone_off_after_confirming_manager_told_once(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    mail: Mailbox,
) -> None:
    assert app.services is not None
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    for ref, who in (("0712345678", jane), ("0722111222", otieno)):
        await said(tg, boss, f"/assign 1 | {ref} | rigger", "invited to")
        invitation = await tg.wait_for_bot_message(who.id, "Invitation")
        await tg.press(who, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "2 confirmed")
    await said(tg, jane, "/off 5/12 | sick", "You are off Sat 5 Dec (sick)")

    clock.set(CALL - timedelta(hours=24))
    await app.services.scheduler.run_due()
    alert = await tg.wait_for_bot_message(boss.id, "Jane Wanjiku is off Sat 5 Dec")
    assert "(sick)" in alert["text"] and "no reminder went to them" in alert["text"]
    assert labels(alert) == ["Open the event"]
    await mail.wait_for("achieng@sauti.example", "Jane Wanjiku is off for Harusi ya Wanjiru")
    await tg.wait_for_bot_message(otieno.id, "Reminder: call time in 24 hours")

    clock.set(CALL - timedelta(hours=2))
    await app.services.scheduler.run_due()
    await tg.wait_for_bot_message(otieno.id, "Reminder: call time in 2 hours")

    assert not [m for m in tg.bot_messages(jane.id) if "Reminder" in m["text"]]
    assert await OutboxMessage.filter(kind="reminder", person__name="Jane Wanjiku").count() == 0
    told = await OutboxMessage.filter(kind="crew_off", channel="telegram")
    assert len(told) == 1
    assert len([m for m in tg.bot_messages(boss.id) if "is off Sat 5 Dec" in m["text"]]) == 1
    assert (
        await ScheduledJob.filter(kind=JobKind.REMINDER, status=JobStatus.DONE).count() == 4
    )  # every job ran once; Jane's two sent nothing to her
    # A reminder sent by hand leaves her out too, and says so.
    done = await said(tg, boss, "/remind 1", "Reminder sent to 1 confirmed crew member")
    assert "Not to Jane Wanjiku: marked a day of it off" in done["text"]
    assert await OutboxMessage.filter(kind="reminder", person__name="Jane Wanjiku").count() == 0
