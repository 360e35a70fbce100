"""One Telegram budget for every instance on one PostgreSQL database (`SharedBudget`), and
SQLite (one process) paced by PTB's in-process limiter as before.

Each "instance" here is its own PTB bot with its own `RateLimiter` and `SharedBudget`: they
share nothing but the database, as two `callsheet run` processes do. They talk HTTP to the
Telegram stand-in with Telegram's real limits, which answers 429 to anything faster; the
tests read what it received and when (its own clock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from telegram.ext import ExtBot

from bot.app import Callsheet
from bot.delivery import OUTBOX, RateLimiter
from models import TelegramBudget, TelegramChatBudget
from sandbox.telegram import RequestRecord, SandboxUser, TelegramSandbox
from services.clock import ManualClock
from services.outbox.budget import BOT_RATE, CHAT_RATE, SharedBudget
from tests.conftest import BOT_TOKEN, BOT_USERNAME, PG_URL, Mailbox, app_settings

postgres_only = pytest.mark.skipif(
    not PG_URL,
    reason="the budget is shared through PostgreSQL (SQLite is one process, paced in it); "
    "set CALLSHEET_TEST_DATABASE_URL",
)


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """Telegram's own limits: 30 a second for the bot, 1 a second per chat (burst 5)."""
    sandbox = TelegramSandbox()
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


@pytest.fixture
async def instances(tg: TelegramSandbox, database: str) -> AsyncIterator[list[ExtBot[int]]]:
    """Two instances' bots, each with its own limiter, sharing only the database."""
    await TelegramBudget.all().delete()
    await TelegramChatBudget.all().delete()
    bots: list[ExtBot[int]] = [
        ExtBot(BOT_TOKEN, base_url=tg.base_url, rate_limiter=RateLimiter(max_retries=3))
        for _ in range(2)
    ]
    for bot in bots:
        await bot.initialize()
    yield bots
    for bot in bots:
        await bot.shutdown()


async def started(tg: TelegramSandbox, count: int, first_id: int) -> list[SandboxUser]:
    users = [tg.user(first_id + n, f"Crew{n}") for n in range(count)]
    for user in users:
        await tg.send_text(user, "hello")  # each has started the bot
    return users


def sends(tg: TelegramSandbox, after: int = 0) -> list[RequestRecord]:
    return [r for r in tg.requests[after:] if r.method.lower() == "sendmessage"]


def most_in_any_window(times: Sequence[float], seconds: float) -> int:
    ordered = sorted(times)
    return max(
        sum(1 for t in ordered[i:] if t < start + seconds) for i, start in enumerate(ordered)
    )


def within_two_seconds() -> float:
    """The most one bot may send in two seconds, with 6 sends' leeway for jitter."""
    return 2 * BOT_RATE.per_second + BOT_RATE.burst + 6


async def outbox_send(bot: ExtBot[int], chat_id: int, text: str) -> Any:
    return await bot.send_message(chat_id, text, rate_limit_args=OUTBOX)


@postgres_only
async def test_two_instances_together_keep_telegrams_rate(
    tg: TelegramSandbox, instances: list[ExtBot[int]]
) -> None:
    users = await started(tg, 150, 7000)
    first = len(tg.requests)
    # Each instance sends its half at once, as each one's dispatcher would.
    await asyncio.gather(
        *(outbox_send(instances[n % 2], user.id, f"Invitation {n}") for n, user in enumerate(users))
    )

    delivered = sends(tg, first)
    assert tg.stats.too_many_requests == 0
    assert [r.status for r in delivered] == [200] * 150
    for n, user in enumerate(users):
        assert [m["text"] for m in tg.bot_messages(user.id)] == [f"Invitation {n}"]
    times = [r.at for r in delivered]
    # Together 30 a second plus the burst of 5, as Telegram counts them (a few more for
    # sends a busy machine delayed into the next ones; one instance each would be 120)…
    assert most_in_any_window(times, 2.0) <= within_two_seconds()
    # …so 150 took as long as one instance alone would take: (150 - 5) / 30 s, not half.
    assert max(times) - min(times) >= (150 - BOT_RATE.burst) / BOT_RATE.per_second - 0.5


@postgres_only
async def test_one_chat_gets_one_message_a_second_from_both_instances(
    tg: TelegramSandbox, instances: list[ExtBot[int]]
) -> None:
    (jane,) = await started(tg, 1, 7500)
    first = len(tg.requests)
    # Three from each instance's outbox into one chat, all at once: more than the chat's
    # burst of 5 that Telegram allows.
    await asyncio.gather(
        *(outbox_send(instances[n % 2], jane.id, f"Note {n}") for n in range(6)),
    )

    delivered = sends(tg, first)
    assert tg.stats.too_many_requests == 0
    assert sorted(m["text"] for m in tg.bot_messages(jane.id)) == [f"Note {n}" for n in range(6)]
    times = sorted(r.at for r in delivered)
    # Three at once, then one a second.
    assert times[3] - times[0] >= CHAT_RATE.interval - 0.1
    assert times[5] - times[3] >= 2 * CHAT_RATE.interval - 0.1


@postgres_only
async def test_a_reply_during_a_fan_out_goes_ahead_of_the_outbox(
    tg: TelegramSandbox, instances: list[ExtBot[int]]
) -> None:
    users = await started(tg, 90, 8000)
    achieng, *crew = users
    first = len(tg.requests)
    fan_out = asyncio.gather(
        *(outbox_send(instances[0], user.id, "Invitation") for user in crew),
    )
    while len(sends(tg, first)) < 10:  # noqa: ASYNC110 - the sandbox's record is the event
        await asyncio.sleep(0.01)
    asked_at = len(sends(tg, first))
    # A handler's reply on the other instance (PTB's own send: no rate_limit_args).
    await instances[1].send_message(achieng.id, "✅ Event created")
    await fan_out

    delivered = sends(tg, first)
    assert tg.stats.too_many_requests == 0
    position = next(n for n, r in enumerate(delivered) if int(r.params["chat_id"]) == achieng.id)
    # The outbox holds at most `horizon` (0.2 s, 6 sends) of the budget, plus the burst:
    # the reply waited for about that, not for the rest of the 89 invitations.
    assert position - asked_at <= 6 + BOT_RATE.burst
    assert len(delivered) - position > 40


async def test_the_database_decides_who_paces(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
) -> None:
    """PostgreSQL: the shared budget. SQLite: PTB's in-process limiter, as before."""
    (jane,) = await started(tg, 1, 9000)
    app = Callsheet(app_settings(tg, database_url, smtp_server[1]), clock=clock)
    await app.start()
    try:
        assert app.application is not None
        limiter = app.application.bot.rate_limiter
        assert isinstance(limiter, RateLimiter)
        await app.application.bot.send_message(jane.id, "Hello from the bot")
        budget_rows = await TelegramBudget.all().count()
    finally:
        await app.stop()

    # (Jane's "hello" had its answer too: she is nobody the company added.)
    assert "Hello from the bot" in [m["text"] for m in tg.bot_messages(jane.id)]
    assert tg.stats.too_many_requests == 0
    if PG_URL:
        assert isinstance(limiter.shared, SharedBudget)
        assert budget_rows == 1
    else:
        assert limiter.shared is None
        assert budget_rows == 0


class Waits:
    """A budget's sleep that only records: the store's answers, without waiting for them."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@postgres_only
async def test_two_budgets_hand_out_consecutive_slots_from_one_schedule(database: str) -> None:
    await TelegramBudget.all().delete()
    waits = Waits()
    budgets = [SharedBudget(sleep=waits) for _ in range(2)]
    for budget in budgets:
        await budget.setup()
    # 20 replies asked for at once through two instances: the first 5 go at once (the
    # burst), then one slot each 1/30 s, whichever instance asked.
    waited = await asyncio.gather(
        *(budgets[n % 2].acquire(None, background=False) for n in range(20))
    )
    interval = BOT_RATE.interval
    expected = [0.0] * BOT_RATE.burst + [n * interval for n in range(1, 16)]
    # Each answer is measured from its own query, a few milliseconds apart at most.
    assert sorted(waited) == pytest.approx(expected, abs=0.1)
    assert max(waited) == pytest.approx(15 * interval, abs=0.1)


@postgres_only
async def test_a_schedule_far_ahead_after_a_clock_step_waits_a_minute_at_most(
    database: str,
) -> None:
    # The database server's clock stepped back an hour after a send was scheduled.
    await TelegramBudget.all().delete()
    await TelegramChatBudget.all().delete()
    await TelegramBudget.create(key="bot", tat=4_000_000_000.0)
    await TelegramChatBudget.create(chat_id=42, tat=4_000_000_000.0)
    waits = Waits()
    waited = await SharedBudget(sleep=waits).acquire(42, background=False)
    assert 59 < waited <= 2 * 60 + 1  # the chat's minute, then the bot's
    assert all(seconds <= 61 for seconds in waits.seconds)
