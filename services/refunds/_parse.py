"""Reading `/refund <payment id> | <amount> | <reason>`; the amount may be left out (or
"all") for everything still refundable."""

from __future__ import annotations

from dataclasses import dataclass

from services.ids import parse_id
from services.money import MAX_AMOUNT, parse_amount
from services.refunds._errors import BadRefund

USAGE = (
    "Send /refund <payment number> | <amount> | <reason>, like "
    "/refund 12 | 500 | charged twice. Leave the amount out (or say all) to give back "
    "everything: /refund 12 | wrong event."
)
REASON_MAX = 200
WHOLE = ("all", "full", "everything")


@dataclass(frozen=True)
class RefundAsk:
    payment_id: int
    amount: int | None  # None: all that is still refundable
    reason: str


def parse_payment(text: str) -> int:
    payment_id = parse_id(text.strip().lstrip("#"))
    if payment_id is None:
        shown = " ".join(text.split())[:20]
        what = f"“{shown}” is not a payment number." if shown else "Say which payment."
        raise BadRefund(f"{what} Send the number from /payments, like 12.")
    return payment_id


def parse_refund_amount(text: str) -> int | None:
    if text.strip().lower() in WHOLE or not text.strip():
        return None
    return parse_amount(text, MAX_AMOUNT)


def clean_refund_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise BadRefund("Say why the money goes back, like “charged twice”.")
    if len(reason) > REASON_MAX:
        raise BadRefund(f"The reason is {len(reason)} characters; keep it under {REASON_MAX}.")
    return reason


def parse_refund(text: str) -> RefundAsk:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) == 2:
        parts.insert(1, "")
    if len(parts) != 3 or not parts[0]:
        raise BadRefund(USAGE)
    return RefundAsk(
        parse_payment(parts[0]), parse_refund_amount(parts[1]), clean_refund_reason(parts[2])
    )
