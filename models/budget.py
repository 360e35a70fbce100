"""Telegram's sending budget, shared by every instance on one PostgreSQL database.

Each row is a GCRA ("generic cell rate algorithm") schedule: `tat` is the theoretical
arrival time of the next message, in seconds since the epoch on the database server's
clock (the one clock every instance agrees on). A send reserves its slot by moving `tat`
forward in one atomic UPDATE; see `services/outbox/budget.py`. Only PostgreSQL uses these tables:
on SQLite there is one process, and PTB's in-process limiter paces it.

These are pacing times on the real clock, not times something happened: they are never
shown, and the app's injected clock (which tests run fast) must not drive them.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TelegramBudget(Model):
    """The bot's overall budget (Telegram: about 30 messages a second per bot)."""

    key = fields.CharField(max_length=32, primary_key=True)
    tat = fields.FloatField(default=0.0)

    class Meta:
        table = "telegram_budget"


class TelegramChatBudget(Model):
    """One chat's budget (Telegram: about 1 message a second per chat)."""

    # A row whose `tat` is in the past says no more than a missing row: old ones are deleted.

    chat_id = fields.BigIntField(primary_key=True, generated=False)
    tat = fields.FloatField(default=0.0)

    class Meta:
        table = "telegram_chat_budget"
        indexes = (("tat",),)
