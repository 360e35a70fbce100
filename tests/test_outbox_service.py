"""The outbox at service level, on the real database (SQLite, or PostgreSQL in CI): claims,
leases, per-chat order, a dispatcher killed mid-batch, two dispatchers on 1,000 rows, 403."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from models import Access, AuditLog, Channel, NotificationKind, OutboxMessage, OutboxStatus, Person
from models.stamps import stamp
from services.clock import ManualClock
from services.errors import NotAllowed
from services.notifications import Notifier
from services.outbox import (
    ChatUnreachable,
    Dispatcher,
    NothingToResend,
    Outbox,
    OutboxService,
    RetryLater,
    Transient,
)
from tests.conftest import START
from tests.outbox_helpers import chat_row, renderer

TEST_TEMPLATES = Path(__file__).parent / "templates"
TZ = ZoneInfo("Africa/Nairobi")


class RecordingChat:
    """A ChatSender that records what it was given; faults and gates are set per chat."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.faults: dict[int, list[Exception]] = defaultdict(list)
        self.gates: dict[int, asyncio.Event] = {}
        self.started = asyncio.Event()
        self._ids = 0

    async def send(self, chat_id: int, text: str, markup: Any) -> int:
        if self.faults[chat_id]:
            raise self.faults[chat_id].pop(0)
        self.sent.append((chat_id, text))  # as far as Telegram knows, it is delivered now
        gate = self.gates.get(chat_id)
        if gate is not None:
            self.started.set()
            await gate.wait()  # …but our process has not recorded it yet
        await asyncio.sleep(0)
        self._ids += 1
        return self._ids

    async def edit(self, chat_id: int, message_id: int, text: str, markup: Any) -> None:
        self.sent.append((chat_id, f"edit {message_id}: {text}"))


class Progress:
    """How many rows were recorded as sent, by any of the outboxes sharing it."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Condition()

    async def add(self, n: int) -> None:
        async with self.changed:
            self.count += n
            self.changed.notify_all()

    async def reached(self, count: int) -> None:
        async with self.changed:
            await self.changed.wait_for(lambda: self.count >= count)


class CountingOutbox(Outbox):
    """The real Outbox; tests can await the number of rows recorded as sent."""

    def __init__(self, clock: ManualClock, progress: Progress) -> None:
        super().__init__(clock)
        self.progress = progress
        self.sent = 0

    async def mark_sent(self, row: OutboxMessage, message_id: int | None = None) -> bool:
        done = await super().mark_sent(row, message_id)
        self.sent += done
        await self.progress.add(done)
        return done


class Svc(OutboxService):
    outbox: CountingOutbox


def service(
    clock: ManualClock, folders: tuple[Path, ...] = (), progress: Progress | None = None
) -> Svc:
    notifier = Notifier(renderer("https://t.me/callsheet_test_bot", folders), clock)
    return Svc(CountingOutbox(clock, progress or Progress()), notifier, clock)


async def queue(clock: ManualClock, chats: int, per_chat: int) -> None:
    """Rows written as the notifier writes them, interleaved across chats."""
    rows = [
        chat_row(clock, 1000 + c, f"chat {1000 + c} message {n}")
        for n in range(per_chat)
        for c in range(chats)
    ]
    await OutboxMessage.bulk_create(rows, batch_size=200)


def by_chat(sent: list[tuple[int, str]]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for chat_id, text in sent:
        out[chat_id].append(text)
    return out


async def test_claims_are_unique_leased_and_per_chat_ordered(
    database: str, clock: ManualClock
) -> None:
    outbox = Outbox(clock)
    await queue(clock, chats=2, per_chat=3)
    first = await outbox.claim(Channel.TELEGRAM, 50)
    # One row per chat: the head of each chat's queue, never a later one.
    assert [r.text for r in first] == ["chat 1000 message 0", "chat 1001 message 0"]
    assert await outbox.claim(Channel.TELEGRAM, 50) == []  # heads are leased: nothing more

    # The process that claimed them died: nothing happens until the lease runs out…
    clock.advance(timedelta(seconds=59))
    assert await outbox.claim(Channel.TELEGRAM, 50) == []
    clock.advance(timedelta(seconds=2))
    again = await outbox.claim(Channel.TELEGRAM, 50)
    assert [(r.id, r.attempts) for r in again] == [(r.id, 2) for r in first]
    # …and the dead claim can no longer write an outcome over the new one.
    assert not await outbox.mark_sent(first[0])
    assert await outbox.mark_sent(again[0])
    nxt = await outbox.claim(Channel.TELEGRAM, 50)
    assert [r.text for r in nxt] == ["chat 1000 message 1"]


async def test_a_throttled_head_holds_back_its_chat_only(database: str, clock: ManualClock) -> None:
    svc = service(clock)
    chat = RecordingChat()
    chat.faults[1000] = [RetryLater(7, "Telegram asked to wait 7s")]
    dispatcher = Dispatcher(svc, Channel.TELEGRAM, chat=chat)
    await queue(clock, chats=2, per_chat=3)
    for _ in range(4):
        await dispatcher.deliver_due()
    assert by_chat(chat.sent) == {1001: [f"chat 1001 message {n}" for n in range(3)]}
    head = await OutboxMessage.filter(chat_id=1000).order_by("id").first()
    assert head is not None
    assert (head.status, head.attempts, head.last_error) == (
        OutboxStatus.PENDING,
        0,  # a 429 is not a failed attempt
        "Telegram asked to wait 7s",
    )
    assert head.next_attempt_at == clock.now() + timedelta(seconds=7)
    clock.advance(timedelta(seconds=7))
    for _ in range(3):
        await dispatcher.deliver_due()
    assert by_chat(chat.sent)[1000] == [f"chat 1000 message {n}" for n in range(3)]


async def test_transient_errors_back_off_exponentially_then_fail(
    database: str, clock: ManualClock
) -> None:
    svc = service(clock)
    chat = RecordingChat()
    chat.faults[1000] = [Transient("Telegram: Bad Gateway")] * 3
    dispatcher = Dispatcher(svc, Channel.TELEGRAM, chat=chat, max_attempts=3)
    await queue(clock, chats=1, per_chat=1)
    delays = []
    for attempt in (1, 2):
        await dispatcher.deliver_due()
        row = await OutboxMessage.get(chat_id=1000)
        delay = (row.next_attempt_at - clock.now()).total_seconds()
        assert 2**attempt / 2 <= delay <= 2**attempt  # exponential, with jitter
        delays.append(delay)
        assert await dispatcher.deliver_due() == 0  # not before its time
        clock.advance(timedelta(seconds=delay))
    await dispatcher.deliver_due()
    row = await OutboxMessage.get(chat_id=1000)
    assert (row.status, row.attempts, row.last_error) == (
        OutboxStatus.FAILED,
        3,
        "Telegram: Bad Gateway",
    )
    assert chat.sent == []


async def test_a_dispatcher_killed_mid_batch_resends_only_what_was_in_flight(
    database: str, clock: ManualClock
) -> None:
    svc = service(clock)
    await queue(clock, chats=6, per_chat=5)
    chat = RecordingChat()
    dispatcher = Dispatcher(svc, Channel.TELEGRAM, chat=chat, batch=10)
    for _ in range(2):
        await dispatcher.deliver_due()
    # Round three: two chats reach Telegram but hang before we record them; then the kill.
    chat.gates = {1002: asyncio.Event(), 1004: asyncio.Event()}
    task = asyncio.create_task(dispatcher.deliver_due())
    await chat.started.wait()
    async with asyncio.timeout(5):  # the four other chats are done and recorded
        await svc.outbox.progress.reached(6 * 2 + 4)
    in_flight = {t for c, t in chat.sent[12:] if c in (1002, 1004)}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await OutboxMessage.filter(status=OutboxStatus.SENDING).count() == 0  # released

    restarted = RecordingChat()
    dispatcher = Dispatcher(svc, Channel.TELEGRAM, chat=restarted, batch=10)
    while await dispatcher.deliver_due():
        pass
    everything = chat.sent + restarted.sent
    assert {t for _, t in everything} == {
        f"chat {1000 + c} message {n}" for c in range(6) for n in range(5)
    }
    twice = {t for t, count in Counter(t for _, t in everything).items() if count > 1}
    assert twice == in_flight and len(in_flight) == 2
    for chat_id, texts in by_chat(restarted.sent).items():
        assert texts == sorted(texts)  # per chat, still in order
        assert chat_id in range(1000, 1006)
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == 30


async def test_two_dispatchers_deliver_a_thousand_rows_once_each(
    database: str, clock: ManualClock
) -> None:
    await queue(clock, chats=40, per_chat=25)
    chat = RecordingChat()
    # Two instances: their own Outbox objects, one database (PostgreSQL: SKIP LOCKED).
    progress = Progress()
    one, two = service(clock, progress=progress), service(clock, progress=progress)
    first = Dispatcher(one, Channel.TELEGRAM, chat=chat, batch=15, poll_seconds=0.01)
    second = Dispatcher(two, Channel.TELEGRAM, chat=chat, batch=15, poll_seconds=0.01)
    tasks = [asyncio.create_task(d.run()) for d in (first, second)]
    try:
        async with asyncio.timeout(120):
            await progress.reached(1000)
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks)
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == 1000
    assert one.outbox.sent > 100 and two.outbox.sent > 100  # both instances took part
    texts = [t for _, t in chat.sent]
    assert len(texts) == 1000 and len(set(texts)) == 1000
    for chat_id, got in by_chat(chat.sent).items():
        assert got == [f"chat {chat_id} message {n}" for n in range(25)]


async def test_403_moves_the_person_to_email_and_tells_managers_once(
    database: str, clock: ManualClock
) -> None:
    svc = service(clock, folders=(TEST_TEMPLATES, Path(__file__).parent.parent / "templates"))
    boss = await Person.create(
        **stamp(Person, START),
        name="Achieng Otieno",
        phone="+254700000001",
        access=Access.MANAGER,
        email="boss@x.ke",
    )
    jane = await Person.create(
        **stamp(Person, START),
        name="Jane Wanjiku",
        phone="+254712345678",
        telegram_id=5001,
        email="jane@x.ke",
    )
    async with in_transaction() as conn:
        for n in (1, 2, 3):
            await svc.notifier.notify(
                jane,
                NotificationKind.MANAGER_ALERT,
                {"n": n},
                channels=(Channel.TELEGRAM,),
                using_db=conn,
            )
    chat = RecordingChat()
    chat.faults[5001] = [ChatUnreachable("Forbidden: bot was blocked by the user")]
    dispatcher = Dispatcher(svc, Channel.TELEGRAM, chat=chat)
    await dispatcher.deliver_due()

    rows = await OutboxMessage.filter(person=jane).order_by("id")
    assert [(r.channel, r.status) for r in rows] == [
        (Channel.TELEGRAM, OutboxStatus.FAILED)
    ] * 3 + [(Channel.EMAIL, OutboxStatus.PENDING)] * 3
    assert [r.subject for r in rows[3:]] == [
        "Note 1 for Jane Wanjiku",
        "Note 2 for Jane Wanjiku",
        "Note 3 for Jane Wanjiku",
    ]
    assert rows[3].text == "Note 1 for Jane Wanjiku, plain text."
    assert all(r.last_error == "chat unreachable: they blocked the bot" for r in rows[:3])
    assert (await Person.get(id=jane.id)).chat_unreachable_at == clock.now()
    alert = await OutboxMessage.filter(person=boss, kind="chat_unreachable").order_by("id")
    assert [a.channel for a in alert] == [Channel.EMAIL]  # the boss has no Telegram linked
    assert "Jane Wanjiku no longer gets Telegram messages (Mon 23 Nov, 10:00)" in (
        alert[0].subject or ""
    )
    assert "From now on they get everything by email at jane@x.ke" in alert[0].text

    # Later messages go by email only, and the managers are not told again.
    jane = await Person.get(id=jane.id)
    await svc.notifier.notify(jane, NotificationKind.MANAGER_ALERT, {"n": 4})
    newest = await OutboxMessage.filter(person=jane).order_by("-id").first()
    assert newest is not None and newest.channel is Channel.EMAIL
    assert await dispatcher.deliver_due() == 0
    assert await OutboxMessage.filter(kind="chat_unreachable").count() == 1
    assert await AuditLog.filter(action="person.chat_unreachable").count() == 1

    # History: what was sent, when, through which channel, and its state.
    history = await svc.history_for(jane.id)
    assert [(h.channel, h.status) for h in history][:2] == [
        (Channel.EMAIL, OutboxStatus.PENDING),
        (Channel.EMAIL, OutboxStatus.PENDING),
    ]
    assert history[-1].what == "Note 1 for Jane Wanjiku"


async def test_resend_is_for_managers_and_starts_a_new_attempt_count(
    database: str, clock: ManualClock
) -> None:
    svc = service(clock)
    boss = await Person.create(
        **stamp(Person, START), name="Achieng Otieno", phone="+254700000001", access=Access.MANAGER
    )
    crew = await Person.create(
        **stamp(Person, START), name="Jane Wanjiku", phone="+254712345678", email="jane@x.ke"
    )
    row = await OutboxMessage.create(
        **stamp(OutboxMessage, START),
        person=crew,
        channel=Channel.EMAIL,
        kind="reminder",
        email_to="old@x.ke",
        subject="Reminder",
        text="t",
        status=OutboxStatus.FAILED,
        attempts=8,
        last_error="the mail server said 451 try later",
        next_attempt_at=clock.now(),
    )
    with pytest.raises(NotAllowed, match="Only a manager can resend"):
        await svc.resend(crew, row.id)
    assert (await OutboxMessage.get(id=row.id)).status is OutboxStatus.FAILED
    assert [d.id for d in await svc.failed_emails()] == [row.id]

    resent = await svc.resend(boss, row.id)
    assert (resent.status, resent.attempts, resent.to) == (OutboxStatus.PENDING, 0, "jane@x.ke")
    with pytest.raises(NothingToResend, match="is pending, not failed"):
        await svc.resend(boss, row.id)
    with pytest.raises(NothingToResend, match="There is no message #999"):
        await svc.resend(boss, 999)
    assert await svc.failed_emails() == []
    assert await AuditLog.filter(action="outbox.resent", actor=boss).count() == 1


async def test_nothing_queued_before_a_deactivation_reaches_the_person_afterwards(
    database: str, clock: ManualClock
) -> None:
    """A retry, a lease that ran out, or a manager's Resend: once someone is deactivated,
    their rows are skipped with the reason, and their neighbours' still go out."""
    svc = service(clock)
    boss = await Person.create(
        **stamp(Person, START), name="Achieng Otieno", phone="+254700000001", access=Access.MANAGER
    )
    jane = await Person.create(
        **stamp(Person, START), name="Jane Wanjiku", phone="+254712345678", telegram_id=1001
    )
    otieno = await Person.create(
        **stamp(Person, START), name="Otieno Kamau", phone="+254712345679", telegram_id=1002
    )
    for person, status in ((jane, OutboxStatus.PENDING), (otieno, OutboxStatus.PENDING)):
        await OutboxMessage.create(
            **stamp(OutboxMessage, START),
            person=person,
            channel=Channel.TELEGRAM,
            kind="reminder",
            chat_id=person.telegram_id,
            text=f"briefing with the crew's phones, for {person.name}",
            status=status,
            attempts=1,  # a first try failed before the deactivation
            next_attempt_at=clock.now(),
        )
    failed = await OutboxMessage.create(
        **stamp(OutboxMessage, START),
        person=jane,
        channel=Channel.TELEGRAM,
        kind="reminder",
        chat_id=1001,
        text="an older reminder",
        status=OutboxStatus.FAILED,
        attempts=8,
        next_attempt_at=clock.now(),
    )
    await Person.filter(id=jane.id).update(active=False, updated_at=clock.now())

    chat = RecordingChat()
    dispatcher = Dispatcher(svc, Channel.TELEGRAM, chat=chat)
    assert await dispatcher.round() == 1
    assert chat.sent == [(1002, "briefing with the crew's phones, for Otieno Kamau")]
    skipped = await OutboxMessage.get(person=jane, status=OutboxStatus.SKIPPED)
    assert skipped.last_error == "not sent: person deactivated"

    with pytest.raises(NothingToResend, match="Jane Wanjiku is deactivated"):
        await svc.resend(boss, failed.id)
    assert (await OutboxMessage.get(id=failed.id)).status is OutboxStatus.FAILED
