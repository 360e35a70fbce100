"""What a manager types to change one line (`/payroll 12 | Jane | <change>`), read and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from models import PayLine
from services.money import MAX_AMOUNT, AmountError, parse_amount
from services.payroll._errors import BadChange
from services.payroll._lines import ADJUSTMENTS_MAX, REASON_MAX, gross_of, refigure

CHANGE_FORMS = (
    "Write the change as +1000 overtime, -500 advance, deduct 800, deduct all, deduct none, "
    "leave out, put back or clear (drops the + and − amounts)."
)
_ADJUST = re.compile(r"(?P<sign>[+\-−])\s*(?P<amount>[^\s]+)\s*(?P<reason>.*)", re.DOTALL)


class ChangeKind(StrEnum):
    ADJUST = "adjust"
    DEDUCT = "deduct"
    LEAVE_OUT = "leave out"
    PUT_BACK = "put back"
    CLEAR = "clear"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    amount: int = 0  # signed for ADJUST; shillings for DEDUCT
    reason: str = ""
    everything: bool = False  # "deduct all": as much as is owed and earned

    def describe(self) -> str:
        if self.kind is ChangeKind.ADJUST:
            sign = "+" if self.amount >= 0 else "−"
            return f"{sign}KES {abs(self.amount):,} {self.reason}"
        if self.kind is ChangeKind.DEDUCT:
            return "deduct all owed" if self.everything else f"deduct KES {self.amount:,}"
        return self.kind.value


def parse_change(text: str) -> Change:
    words = " ".join(text.split())
    lower = words.lower()
    if not words:
        raise BadChange("Say what changes. " + CHANGE_FORMS)
    if lower in ("leave out", "leave them out", "out", "remove"):
        return Change(ChangeKind.LEAVE_OUT)
    if lower in ("put back", "include", "back in"):
        return Change(ChangeKind.PUT_BACK)
    if lower in ("clear", "clear adjustments"):
        return Change(ChangeKind.CLEAR)
    if lower.startswith("deduct"):
        rest = lower[len("deduct") :].strip()
        if rest == "all":
            return Change(ChangeKind.DEDUCT, everything=True)
        if rest in ("none", "nothing", "0"):
            return Change(ChangeKind.DEDUCT, 0)
        try:
            return Change(ChangeKind.DEDUCT, parse_amount(rest))
        except AmountError as exc:
            raise BadChange(f"{exc} {CHANGE_FORMS}") from exc
    match = _ADJUST.fullmatch(words)
    if match is None:
        raise BadChange(f"“{words[:40]}” is not a change I know. {CHANGE_FORMS}")
    try:
        amount = parse_amount(match["amount"])
    except AmountError as exc:
        raise BadChange(f"{exc} {CHANGE_FORMS}") from exc
    reason = match["reason"].strip()
    if not reason:
        raise BadChange(f"Say what the {match['sign']}{amount:,} is for, like “+1000 overtime”.")
    if len(reason) > REASON_MAX:
        raise BadChange(f"The reason is {len(reason)} characters; keep it under {REASON_MAX}.")
    return Change(ChangeKind.ADJUST, -amount if match["sign"] in "-−" else amount, reason)


def apply_change(line: PayLine, change: Change, name: str) -> None:
    """Change `line` in memory, or refuse saying why; gross and net follow."""
    if change.kind is ChangeKind.LEAVE_OUT:
        line.left_out = True
    elif change.kind is ChangeKind.PUT_BACK:
        line.left_out = False
    elif change.kind is ChangeKind.CLEAR:
        line.adjustments = []
    elif change.kind is ChangeKind.ADJUST:
        if len(line.adjustments) >= ADJUSTMENTS_MAX:
            raise BadChange(
                f"{name} already has {ADJUSTMENTS_MAX} amounts added or taken off; "
                "send “clear” and add them again as fewer lines."
            )
        adjustments = [*line.adjustments, {"amount": change.amount, "reason": change.reason}]
        gross = gross_of(line.rate, adjustments)
        if gross < 0:
            raise BadChange(
                f"That makes {name}'s pay KES {gross:,}: pay is never negative. "
                f"Take off at most KES {gross_of(line.rate, line.adjustments):,}."
            )
        if gross > MAX_AMOUNT:
            raise BadChange(
                f"That makes {name}'s pay KES {gross:,}; M-Pesa pays at most "
                f"KES {MAX_AMOUNT:,} at once."
            )
        line.adjustments = adjustments
    else:
        gross = gross_of(line.rate, line.adjustments)
        owed = max(line.owed, 0)
        wanted = min(owed, max(gross, 0)) if change.everything else change.amount
        if wanted and owed <= 0:
            raise BadChange(f"{name} owes nothing, so there is nothing to deduct.")
        if wanted > owed:
            raise BadChange(f"{name} owes KES {owed:,}; deduct at most that.")
        if wanted > gross:
            raise BadChange(
                f"{name}'s pay is KES {max(gross, 0):,} before deductions; deduct at most that."
            )
        line.deduction = wanted
    refigure(line)
