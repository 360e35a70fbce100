"""Buttons of /emails and /history (`out:`): pick a list, resend a failed message, and a
person's message history (also on their card)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.buttons._base import CallbackData

AREA = "out"


class OutboxList(StrEnum):
    FAILED = "failed"  # emails that could not be sent
    UNREACHABLE = "unreachable"  # people and chat messages Telegram refused


@dataclass(frozen=True)
class ShowList(CallbackData, prefix=AREA, action="list"):
    which: OutboxList


@dataclass(frozen=True)
class Resend(CallbackData, prefix=AREA, action="resend"):
    outbox_id: int


@dataclass(frozen=True)
class ShowHistory(CallbackData, prefix=AREA, action="hist"):
    person_id: int
