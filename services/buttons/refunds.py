"""Buttons on a paid payment and on a refund's card (`rfd:`)."""

from __future__ import annotations

from dataclasses import dataclass

from services.buttons._base import CallbackData

AREA = "rfd"


@dataclass(frozen=True)
class StartRefund(CallbackData, prefix=AREA, action="start"):
    """On a paid payment's message: asks how much to give back, and why."""

    payment_id: int


@dataclass(frozen=True)
class ApproveRefund(CallbackData, prefix=AREA, action="ok"):
    refund_id: int


@dataclass(frozen=True)
class RejectRefund(CallbackData, prefix=AREA, action="no"):
    """Another manager says no; on the asker's own card it withdraws the refund."""

    refund_id: int
