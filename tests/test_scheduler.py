"""Scheduled messages: reminders, nudges and alerts go out once, across restarts and instances."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.app import Callsheet
from bot.container import build_services
from models import (
    Access,
    Assignment,
    AssignmentStatus,
    Event,
    JobKind,
    JobStatus,
    OutboxMessage,
    Person,
    ScheduledJob,
)
from models.stamps import stamp
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.scheduler import Scheduler
from tests.conftest import START, Mailbox, People, app_settings, make_settings, text_part
from tests.event_setup import crew_and_event, said

CALL = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # Sat 5 Dec, 15:00 in Nairobi


async def confirmed_jane(tg: TelegramSandbox, people: People) -> tuple:  # type: ignore[type-arg]
    boss, jane, otieno, event = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")
    return boss, jane, otieno, event


async def test_reminders_go_out_at_their_offsets_once(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, mail: Mailbox
) -> None:
    assert app.services is not None
    _, jane, _, _ = await confirmed_jane(tg, people)
    jobs = await ScheduledJob.filter(kind=JobKind.REMINDER).order_by("due_at")
    assert [j.due_at for j in jobs] == [CALL - timedelta(hours=24), CALL - timedelta(hours=2)]

    clock.set(CALL - timedelta(hours=24))
    await app.services.scheduler.run_due()
    reminder = await tg.wait_for_bot_message(jane.id, "Reminder: call time in 24 hours")
    assert "KICC, Nairobi" in reminder["text"] and "rigger" in reminder["text"]
    email = await mail.wait_for("jane@example.com", "Reminder: call time in 24 hours")
    assert "Call time: Sat 5 Dec, 15:00" in text_part(email)
    await app.services.scheduler.run_due()  # nothing more is due
    clock.set(CALL - timedelta(hours=2))
    await app.services.scheduler.run_due()
    await tg.wait_for_bot_message(jane.id, "Reminder: call time in 2 hours")
    await app.services.scheduler.run_due()
    assert await OutboxMessage.filter(kind="reminder", channel="telegram").count() == 2
    assert await ScheduledJob.filter(status=JobStatus.DONE, kind=JobKind.REMINDER).count() == 2


async def test_nudge_and_manager_alert_for_unanswered_invitations(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    assert app.services is not None
    boss, _, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    await tg.wait_for_bot_message(otieno.id, "Invitation")
    clock.advance(timedelta(hours=12))
    await app.services.scheduler.run_due()
    nudge = await tg.wait_for_bot_message(otieno.id, "You have not answered this invitation yet")
    assert [b["text"] for row in nudge["reply_markup"]["inline_keyboard"] for b in row] == [
        "✅ Confirm",
        "❌ Decline",
    ]
    clock.set(CALL - timedelta(hours=48))
    await app.services.scheduler.run_due()
    alert = await tg.wait_for_bot_message(boss.id, "call time in 2 days")
    assert "Still needs 2 more confirmed crew" in alert["text"]
    assert "No answer yet from: Otieno Kamau" in alert["text"]
    # Answering from the nudge works like the invitation.
    await tg.press(otieno, nudge["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Otieno Kamau confirmed")


async def test_a_time_change_moves_reminders_and_tells_confirmed_crew(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, mail: Mailbox
) -> None:
    assert app.services is not None
    boss, jane, _, _ = await confirmed_jane(tg, people)
    await said(tg, boss, "/editevent 1 | call | 14:00", "Saved")
    changed = await tg.wait_for_bot_message(jane.id, "has changed")
    assert "Call time: Sat 5 Dec, 15:00 → Sat 5 Dec, 14:00" in changed["text"]
    await mail.wait_for("jane@example.com", "Changed: Harusi ya Wanjiru")
    pending = await ScheduledJob.filter(kind=JobKind.REMINDER, status=JobStatus.PENDING)
    assert sorted(j.due_at for j in pending) == [
        CALL - timedelta(hours=25),
        CALL - timedelta(hours=3),
    ]
    clock.set(CALL - timedelta(hours=25))
    await app.services.scheduler.run_due()
    await tg.wait_for_bot_message(jane.id, "Reminder: call time in 24 hours")
    clock.set(CALL - timedelta(hours=24))  # the old 24 h reminder time: nothing more for Jane
    await app.services.scheduler.run_due()
    reminders = await OutboxMessage.filter(kind="reminder", channel="telegram").count()
    assert reminders == 1


async def test_a_restart_between_scheduling_and_sending_loses_nothing(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
) -> None:
    _, jane, _, _ = await confirmed_jane(tg, people)
    await app.stop()
    clock.set(CALL - timedelta(hours=2))
    again = Callsheet(app_settings(tg, database_url, smtp_server[1]), clock=clock)
    await again.start()
    try:
        assert again.services is not None
        await again.services.scheduler.run_due()
        reminder = await tg.wait_for_bot_message(jane.id, "Reminder: call time in 2 hours")
        assert "Harusi ya Wanjiru" in reminder["text"]
        # The 24 h reminder was due while the bot was down and is sent late, once.
        await tg.wait_for(
            lambda: (
                len([m for m in tg.bot_messages(jane.id) if "Reminder" in (m.get("text") or "")])
                == 2
            )
        )
    finally:
        await again.stop()
        await app.start()  # the fixture stops it again


async def test_cancel_drops_the_jobs(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    assert app.services is not None
    boss, jane, _, _ = await confirmed_jane(tg, people)
    card = await said(tg, boss, "/event 1", "Call time")
    await tg.press(boss, card["message_id"], "Cancel event")
    confirm = await tg.wait_for_bot_message(boss.id, "will be told")
    await tg.press(boss, confirm["message_id"], "Yes, cancel it")
    await tg.wait_for_bot_message(jane.id, "is cancelled")
    assert await ScheduledJob.filter(status=JobStatus.PENDING).count() == 0
    clock.set(CALL - timedelta(hours=2))
    assert await app.services.scheduler.run_due() == 0


async def test_two_schedulers_send_200_due_reminders_exactly_once(database: str) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    services = build_services(make_settings(database_url=database), clock, bot_username="bot")
    boss = await Person.create(
        **stamp(Person, START), name="Boss", phone="+254700000001", access=Access.MANAGER
    )
    event = await Event.create(
        **stamp(Event, START),
        title="Big show",
        venue="Kasarani",
        starts_at=CALL + timedelta(hours=3),
        ends_at=CALL + timedelta(hours=8),
        call_at=CALL,
        manager=boss,
    )
    crew = [
        Person(
            **stamp(Person, START), name=f"Crew {i}", phone=f"+25471{i:07d}", telegram_id=50_000 + i
        )
        for i in range(200)
    ]
    await Person.bulk_create(crew)
    from tortoise.transactions import in_transaction

    async with in_transaction() as conn:
        for person in await Person.filter(name__startswith="Crew").using_db(conn):
            a = await Assignment.create(
                event=event,
                person=person,
                role="stagehand",
                status=AssignmentStatus.CONFIRMED,
                invited_at=clock.now(),
                updated_at=clock.now(),
                using_db=conn,
            )
            await services.scheduler.plan_assignment(a, event, conn)
    assert await ScheduledJob.filter(kind=JobKind.REMINDER).count() == 400

    def instance() -> Scheduler:
        return Scheduler(
            services.notifier,
            services.outbox,
            clock,
            reminder_offsets=(timedelta(hours=24), timedelta(hours=2)),
            nudge_after=timedelta(hours=12),
            alert_window=timedelta(hours=48),
        )

    clock.set(CALL - timedelta(hours=24))

    async def drain(scheduler: Scheduler) -> int:
        total = 0
        while ran := await scheduler.run_due(limit=15):
            total += ran
        return total

    ran = await asyncio.gather(drain(instance()), drain(instance()))
    assert sum(ran) == 200
    rows = await OutboxMessage.filter(kind="reminder").values_list("person_id", flat=True)
    assert len(rows) == 200 and len(set(rows)) == 200
    assert await ScheduledJob.filter(status=JobStatus.DONE).count() == 200
    assert await ScheduledJob.filter(status=JobStatus.PENDING).count() == 200  # the 2 h ones
