"""Workers that one bad item cannot jam: a Telegram answer that cannot be read, an email
header with a line break, an item that raises something nobody expected, a scheduled job
that keeps failing. Each is counted against its own item and parked where a manager sees
it; its neighbours go on."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from bot.app import Callsheet
from models import (
    Access,
    Assignment,
    AssignmentStatus,
    Channel,
    Event,
    JobKind,
    JobStatus,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Person,
    ScheduledJob,
)
from models.stamps import stamp
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.notifications import TEMPLATES, Notifier
from services.outbox import Dispatcher, Outbox, OutboxService
from services.scheduler import Scheduler
from services.worker import Worker
from tests.conftest import BOT_USERNAME, START, Mailbox, People
from tests.outbox_helpers import chat_row, renderer, settled, ticking


async def chat_note(app: Callsheet, person: Person, word: str) -> None:
    """A chat-only message, as a live summary or a handler might send."""
    assert app.services is not None
    await app.services.notifier.notify(
        person,
        NotificationKind.INVITE_LINK,
        {"link": f"https://t.me/{BOT_USERNAME}?start={word}", "expires_at": START},
        channels=(Channel.TELEGRAM,),
    )
    app.services.outbox.wake()


@pytest.mark.parametrize("how", ["cut", "not_a_message"])
async def test_a_lost_telegram_answer_gives_one_duplicate_at_most(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, how: str
) -> None:
    _, boss_tg = await people.add("Achieng Otieno", "0700000001", manager=True)
    jane, jane_tg = await people.add("Jane Wanjiku", "0712345678")
    bob, bob_tg = await people.add("Bob Kamau", "0712345679")
    tg.garble_answers(jane_tg, how)  # Telegram delivers to Jane, but we cannot read its answer
    await chat_note(app, jane, "janes")
    await chat_note(app, bob, "bobs")

    async with ticking(app, clock, timedelta(seconds=30)):
        await tg.wait_for_bot_message(bob_tg.id, "start=bobs")
        await settled(
            lambda: OutboxMessage.filter(person=jane, status=OutboxStatus.FAILED).count(), 1
        )
        # Well past every backoff: nothing more goes to Jane.
        for _ in range(20):
            clock.advance(timedelta(hours=1))
            assert app.services is not None
            app.services.outbox.wake()
            await asyncio.sleep(0.02)
    copies = [m for m in tg.bot_messages(jane_tg.id) if "start=janes" in m["text"]]
    assert len(copies) == 2  # the first send and one more: one duplicate at most
    row = await OutboxMessage.get(person=jane, status=OutboxStatus.FAILED)
    assert (row.status, row.attempts, row.unknown_outcomes) == (OutboxStatus.FAILED, 2, 2)

    # The chat is not jammed: Jane's next message goes out once her answers are readable.
    tg.garble_answers(jane_tg, None)
    await chat_note(app, jane, "later")
    await tg.wait_for_bot_message(jane_tg.id, "start=later")

    await tg.send_text(boss_tg, "/emails unreachable")
    listing = await tg.wait_for_bot_message(boss_tg.id, "Telegram messages that failed")
    assert f"#{row.id}" in listing["text"] and "Jane Wanjiku" in listing["text"]
    assert "may have arrived" in listing["text"] and "not sent again" in listing["text"]


async def test_an_email_subject_with_a_line_break_fails_alone(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox, clock: ManualClock
) -> None:
    _, boss_tg = await people.add("Achieng Otieno", "0700000001", manager=True)
    subjects = ["Receipt QJK3AB12CD", "Receipt QJK3\r\nBcc: all@example.com", "Receipt QJK3EF34GH"]
    for n, subject in enumerate(subjects):
        await OutboxMessage.create(
            **stamp(OutboxMessage, START),
            channel=Channel.EMAIL,
            kind="payment_receipt",
            email_to=f"payer{n}@example.com",
            subject=subject,
            text=f"Thank you, payer {n}.",
            next_attempt_at=clock.now(),
        )
    assert app.services is not None
    app.services.outbox.wake()

    await mail.wait_for("payer0@example.com", "QJK3AB12CD")
    await mail.wait_for("payer2@example.com", "QJK3EF34GH")
    await settled(lambda: OutboxMessage.filter(status=OutboxStatus.FAILED).count(), 1)
    assert mail.to("payer1@example.com") == []
    assert not any("all@example.com" in str(m["Bcc"]) for m in mail.messages)
    bad = await OutboxMessage.get(email_to="payer1@example.com")
    assert bad.attempts == 1
    assert bad.last_error == "the subject contains a line break, which an email header cannot hold"

    # The channel goes on: a later email is delivered.
    await OutboxMessage.create(
        **stamp(OutboxMessage, START),
        channel=Channel.EMAIL,
        kind="payment_receipt",
        email_to="payer3@example.com",
        subject="Receipt QJK3IJ56KL",
        text="Thank you, payer 3.",
        next_attempt_at=clock.now(),
    )
    app.services.outbox.wake()
    await mail.wait_for("payer3@example.com", "QJK3IJ56KL")

    await tg.send_text(boss_tg, "/emails failed")
    listing = await tg.wait_for_bot_message(boss_tg.id, "Emails that could not be sent")
    assert "payer1@example.com" in listing["text"]
    assert "the subject contains a line break" in listing["text"]


class Flaky(Worker):
    """Items 1..n; item 2 raises what no one expected, every time it is tried."""

    name = "flaky"

    def __init__(self) -> None:
        super().__init__(idle_seconds=0.01, max_pause=0.05)
        self.done: list[int] = []
        self.rounds = 0
        self.enough = asyncio.Event()

    async def round(self) -> int:
        self.rounds += 1
        if self.rounds % 2:
            raise KeyError("date")  # the whole round breaks, on odd rounds
        self.done.append(self.rounds)
        if len(self.done) >= 3:
            self.enough.set()
        return 0


async def test_a_worker_whose_round_raises_anything_keeps_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Flaky()
    task = asyncio.create_task(worker.run())
    async with asyncio.timeout(5):
        await worker.enough.wait()
    worker.stop()
    async with asyncio.timeout(5):
        await task  # stopped when asked, not by the errors
    assert worker.done[:3] == [2, 4, 6]
    assert "flaky: round failed" in caplog.text and "KeyError: 'date'" in caplog.text


async def test_a_scheduled_job_that_keeps_failing_stops_at_max_attempts(
    database: str, tmp_path: Path
) -> None:
    """A reminder whose template was broken by a change: it is tried `max_attempts` times,
    with a backoff, then parked as failed with the error; the nudge due with it goes out."""
    clock = ManualClock(START)
    (tmp_path / "reminder.j2").write_text("{% block subject %}{{ no_such_thing }}{% endblock %}")
    notifier = Notifier(renderer(folders=(tmp_path, TEMPLATES)), clock)
    scheduler = Scheduler(
        notifier,
        Outbox(clock),
        clock,
        reminder_offsets=(timedelta(hours=24),),
        nudge_after=timedelta(hours=12),
        alert_window=timedelta(hours=1),
        max_attempts=3,
    )
    call = START + timedelta(days=3)
    boss = await Person.create(
        **stamp(Person, START),
        name="Boss",
        phone="+254700000001",
        access=Access.MANAGER,
        telegram_id=6999,
    )
    event = await Event.create(
        **stamp(Event, START),
        title="Harusi",
        venue="KICC",
        starts_at=call + timedelta(hours=3),
        ends_at=call + timedelta(hours=8),
        call_at=call,
        manager=boss,
    )
    async with in_transaction() as conn:
        for n, status in enumerate((AssignmentStatus.CONFIRMED, AssignmentStatus.INVITED)):
            person = await Person.create(
                **stamp(Person, START),
                name=f"Crew {n}",
                phone=f"+25471200000{n}",
                telegram_id=7000 + n,
                using_db=conn,
            )
            assignment = await Assignment.create(
                event=event,
                person=person,
                role="rigger",
                status=status,
                invited_at=START,
                updated_at=START,
                using_db=conn,
            )
            await scheduler.plan_assignment(assignment, event, conn)

    clock.set(call - timedelta(hours=24))
    tries = 0
    while await scheduler.run_due():
        tries += 1
        assert tries < 10, "the failing job was tried again and again"
        clock.advance(timedelta(hours=2))  # past any backoff
    reminder = await ScheduledJob.get(kind=JobKind.REMINDER)
    assert (reminder.status, reminder.attempts) == (JobStatus.FAILED, 3)
    assert reminder.last_error is not None and "no_such_thing" in reminder.last_error
    nudge = await ScheduledJob.get(kind=JobKind.NUDGE)
    assert nudge.status is JobStatus.DONE
    assert await OutboxMessage.filter(kind="nudge").count() == 1
    assert await OutboxMessage.filter(kind="reminder").count() == 0
    # The manager is told, once, with what to do instead.
    (told,) = await OutboxMessage.filter(kind="job_failed")
    assert told.chat_id == 6999
    assert f"A reminder for Harusi (#{event.id}) was not sent" in told.text
    assert "failed 3 times and will not be tried again" in told.text
    assert f"Send /remind {event.id} to remind the confirmed crew now." in told.text
    clock.advance(timedelta(days=1))
    assert await scheduler.run_due() == 0  # parked: never tried again
    assert await OutboxMessage.filter(kind="job_failed").count() == 1


class BrokenForOneChat:
    """A ChatSender whose answer for one chat breaks in a way no sender expects (as PTB's
    KeyError on a message without a date); the other chats get theirs."""

    def __init__(self, broken: int) -> None:
        self.broken = broken
        self.sent: list[tuple[int, str]] = []
        self.progress = asyncio.Event()

    async def send(self, chat_id: int, text: str, markup: Any) -> int:
        self.sent.append((chat_id, text))
        self.progress.set()
        if chat_id == self.broken:
            raise KeyError("date")
        return len(self.sent)

    async def edit(self, chat_id: int, message_id: int, text: str, markup: Any) -> None:
        raise AssertionError("no edits here")


async def test_a_dispatcher_whose_row_raises_anything_keeps_delivering_the_others(
    database: str, clock: ManualClock
) -> None:
    outbox = Outbox(clock)
    service = OutboxService(outbox, Notifier(renderer(), clock), clock)
    chat = BrokenForOneChat(broken=1001)
    dispatcher = Dispatcher(service, Channel.TELEGRAM, chat=chat, poll_seconds=0.01)

    async def note(chat_id: int, text: str) -> None:
        await chat_row(clock, chat_id, text).save()

    for chat_id in (1000, 1001, 1002):
        await note(chat_id, f"first for {chat_id}")
    task = asyncio.create_task(dispatcher.run())
    try:
        await settled(lambda: OutboxMessage.filter(status=OutboxStatus.SENT).count(), 2)
        # The broken row is retried after its backoff, once, then parked.
        first_try = OutboxMessage.filter(chat_id=1001, unknown_outcomes=1)
        await settled(lambda: first_try.count(), 1)
        clock.advance(timedelta(hours=1))
        outbox.wake()
        await settled(lambda: OutboxMessage.filter(status=OutboxStatus.FAILED).count(), 1)
        # The loop is still running: later messages, to every chat, go out (the chat is
        # mended first, so that the dispatcher cannot meet a second message while broken).
        chat.broken = 0
        for chat_id in (1000, 1001, 1002):
            await note(chat_id, f"second for {chat_id}")
        outbox.wake()
        await settled(lambda: OutboxMessage.filter(status=OutboxStatus.SENT).count(), 5)
    finally:
        dispatcher.stop()
        async with asyncio.timeout(5):
            await task
    assert [text for c, text in chat.sent if c == 1001] == [
        "first for 1001",
        "first for 1001",  # one duplicate at most: the send may have gone out
        "second for 1001",
    ]
    assert sorted(text for c, text in chat.sent if c != 1001) == [
        "first for 1000",
        "first for 1002",
        "second for 1000",
        "second for 1002",
    ]
    failed = await OutboxMessage.get(status=OutboxStatus.FAILED)
    assert failed.chat_id == 1001 and failed.attempts == 2
    assert failed.last_error is not None and "KeyError: 'date'" in failed.last_error
