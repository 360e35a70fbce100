"""Telegram's sending budget, shared by every instance on one PostgreSQL database.

Telegram allows a bot about 30 messages a second in all and about 1 a second in one chat,
counted on its own clock whichever process sends. Each instance pacing itself at 30 a
second would, with two instances, send 60 and meet 429s. So on PostgreSQL every send
first reserves a slot in two schedules kept in the database (`models/budget.py`): the
bot's and its chat's. A schedule is GCRA's "theoretical arrival time" (`tat`): a
reservation moves it forward by one interval in a single atomic UPDATE and answers how
long to wait before sending, so the sends of all instances together keep the rate with
at most `burst` at once. Time is the database server's (`clock_timestamp()`), the one clock
all instances share; each instance only sleeps the answered number of seconds.

Nothing is leased or elected: an instance that dies leaves at most the slots it reserved
unused, and the others go on at the full rate.

Handler replies (PTB's own sends) take slots from the same schedules, at once
(`background=False`). The outbox's sends (`background=True`) take a bot slot only when it
is at most `horizon` ahead, and otherwise wait for the schedule to come that close: the
outbox never holds more than `horizon` seconds of slots, so a reply typed during a fan-out
of 1,000 invitations waits about `horizon`, not behind the whole fan-out, and the two
together never exceed Telegram's limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

log = logging.getLogger(__name__)

BOT_KEY = "bot"
NOW = "SELECT extract(epoch FROM clock_timestamp())::float8 AS t"
# Takes a bot slot when the slot is at most $4 seconds ahead; otherwise says in how many
# seconds it will be. $2 is the interval between sends, $3 the burst tolerance. The UPDATE
# reads the row it locks (a concurrent reservation is seen, never overwritten). A schedule
# more than a minute ahead can only come from the server's clock stepping back: it counts
# as a minute ahead, so such a step never stops sending for longer.
RESERVE_BOT = f"""
WITH now AS ({NOW}),
taken AS (
    UPDATE telegram_budget b SET tat = GREATEST(LEAST(b.tat, now.t + 60), now.t) + $2
    FROM now WHERE b.key = $1 AND LEAST(b.tat, now.t + 60) - $3 - now.t <= $4
    RETURNING GREATEST(0, b.tat - $2 - $3 - now.t) AS wait
)
SELECT true AS taken, wait FROM taken
UNION ALL
SELECT false, LEAST(b.tat, now.t + 60) - $3 - $4 - now.t FROM telegram_budget b, now
WHERE b.key = $1 AND NOT EXISTS (SELECT 1 FROM taken)
"""
# Takes the chat's next slot, whenever it is ($2 interval, $3 burst tolerance).
RESERVE_CHAT = f"""
WITH now AS ({NOW})
INSERT INTO telegram_chat_budget AS c (chat_id, tat) SELECT $1, now.t + $2 FROM now
ON CONFLICT (chat_id) DO UPDATE
SET tat = GREATEST(LEAST(c.tat, EXCLUDED.tat + 60), EXCLUDED.tat - $2) + $2
RETURNING GREATEST(0, c.tat - $2 - $3 - (SELECT t FROM now)) AS wait
"""
FORGET_CHATS = f"DELETE FROM telegram_chat_budget WHERE tat < ({NOW}) - 60"
ANYWHERE = 1e9  # a horizon no schedule reaches: the slot is taken whenever it is


@dataclass(frozen=True)
class Rate:
    """`per_second` on average, at most `burst` at once."""

    per_second: float
    burst: int

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


# Telegram's limit is 30 a second; a burst of 5 (Telegram allows more) leaves a margin for
# requests that reach it out of order (bench 1). A chat: 1 a second, 3 at once, so a reply
# of two or three messages goes out together.
BOT_RATE = Rate(30.0, 5)
CHAT_RATE = Rate(1.0, 3)


class SharedBudget:
    """The bot's and each chat's schedule in one PostgreSQL database (see the module)."""

    def __init__(
        self,
        connection: str = "default",
        *,
        bot: Rate = BOT_RATE,
        chat: Rate = CHAT_RATE,
        horizon: float = 0.2,
        forget_every: float = 600.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.connection = connection
        self.bot = bot
        self.chat = chat
        self.horizon = horizon
        self.forget_every = forget_every
        self.sleep = sleep
        # This instance's background sends ask the database one at a time: while the bot's
        # schedule is full, one of them polls it, not all of them.
        self._background = asyncio.Lock()
        self._forgot_at = time.monotonic()

    @staticmethod
    def wanted(connection: str = "default") -> bool:
        """Only PostgreSQL is shared by several instances; SQLite is one process."""
        db: BaseDBAsyncClient = connections.get(connection)
        return bool(db.capabilities.dialect == "postgres")

    @property
    def _db(self) -> BaseDBAsyncClient:
        db: BaseDBAsyncClient = connections.get(self.connection)
        return db

    async def setup(self) -> None:
        await self._db.execute_query(
            "INSERT INTO telegram_budget (key, tat) VALUES ($1, 0) ON CONFLICT DO NOTHING",
            [BOT_KEY],
        )

    async def acquire(self, chat_id: int | None, *, background: bool) -> float:
        """Waits until a message to `chat_id` (None: no chat) may go; returns the seconds
        waited. Raises tortoise's errors when the database cannot be asked."""
        waited = 0.0
        if chat_id is not None:
            waited += await self._wait(await self._reserve_chat(chat_id))
        if background:
            async with self._background:
                while True:
                    taken, wait = await self._reserve_bot(self.horizon)
                    if taken:
                        break
                    waited += await self._wait(max(wait, 0.002))
        else:
            _, wait = await self._reserve_bot(ANYWHERE)
        waited += await self._wait(wait)
        await self._forget_old_chats()
        return waited

    async def _wait(self, seconds: float) -> float:
        if seconds > 0:
            await self.sleep(seconds)
        return max(seconds, 0.0)

    async def _reserve_bot(self, horizon: float) -> tuple[bool, float]:
        _, rows = await self._db.execute_query(
            RESERVE_BOT, [BOT_KEY, self.bot.interval, self.bot.tolerance, horizon]
        )
        if not rows:  # the row is made by setup(); made again here if someone deleted it
            await self.setup()
            return False, 0.0
        return bool(rows[0]["taken"]), float(rows[0]["wait"])

    async def _reserve_chat(self, chat_id: int) -> float:
        _, rows = await self._db.execute_query(
            RESERVE_CHAT, [chat_id, self.chat.interval, self.chat.tolerance]
        )
        return float(rows[0]["wait"])

    async def _forget_old_chats(self) -> None:
        if time.monotonic() - self._forgot_at < self.forget_every:
            return
        self._forgot_at = time.monotonic()
        forgotten, _ = await self._db.execute_query(FORGET_CHATS)
        log.debug("forgot %s idle chat budgets", forgotten)
