"""Buttons of /off (`off:`) and of a broadcast's preview (`bc:`)."""

from __future__ import annotations

from dataclasses import dataclass

from services.buttons._base import CallbackData

AREA = "off"
BROADCAST_AREA = "bc"


@dataclass(frozen=True)
class RemoveDayOff(CallbackData, prefix=AREA, action="rm"):
    day_off_id: int


@dataclass(frozen=True)
class SendBroadcast(CallbackData, prefix=BROADCAST_AREA, action="send"):
    broadcast_id: int


@dataclass(frozen=True)
class CancelBroadcast(CallbackData, prefix=BROADCAST_AREA, action="cancel"):
    broadcast_id: int
