"""What Callsheet and Daraja said to each other about one payment, for a manager checking
it (/daraja): every request and answer (stored redacted, services/daraja/_transport.py)
and every callback received, oldest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from models import DarajaCallback, DarajaExchange, Payment, Person
from services.errors import require_manager
from services.payments.errors import PaymentNotFound

SHOWN = 12  # the newest exchanges shown; a payment rarely has more than five
BODY_CHARS = 500  # of each body, so the whole answer fits one Telegram message


@dataclass(frozen=True, slots=True)
class Exchange:
    at: datetime
    what: str  # "stk_push → HTTP 200 in 312 ms", "callback (applied)"
    sent: str  # the request body, redacted and cut, or ""
    answer: str  # the answer or the callback body, cut


def _cut(value: object) -> str:
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= BODY_CHARS else text[: BODY_CHARS - 1] + "…"


async def payment_exchanges(actor: Person, payment_id: int) -> tuple[Payment, list[Exchange], int]:
    """The payment, its newest exchanges oldest first, and how many older ones are left out."""
    require_manager(actor, "see Daraja exchanges")
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None:
        raise PaymentNotFound(f"There is no payment #{payment_id}. Send /payments for the list.")
    found: list[Exchange] = []
    for row in await DarajaExchange.filter(payment_id=payment.id).order_by("started_at", "id"):
        outcome = f"HTTP {row.status_code}" if row.status_code is not None else "no answer"
        if row.error:
            outcome += f" ({row.error})"
        found.append(
            Exchange(
                at=row.started_at,
                what=f"{row.operation} → {outcome} in {row.duration_ms} ms",
                sent=_cut(row.request_body),
                answer=_cut(row.response_body),
            )
        )
    for callback in await DarajaCallback.filter(payment_id=payment.id).order_by("received_at"):
        found.append(
            Exchange(
                at=callback.received_at,
                what=f"callback from {callback.remote_ip or 'unknown'} ({callback.status.value})",
                sent="",
                answer=_cut(callback.body),
            )
        )
    found.sort(key=lambda e: e.at)
    left_out = max(0, len(found) - SHOWN)
    return payment, found[left_out:], left_out
