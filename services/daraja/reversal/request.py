"""Reverse a received payment in full. A partial refund is a B2C payment instead.

Moves money: an unknown outcome is confirmed with Transaction Status (a second
request answers R000001 "already reversed").
"""

from __future__ import annotations

from services.daraja._errors import DarajaConfigError
from services.daraja._initiated import RequestAccepted, check_urls, fit_remarks, send
from services.daraja._session import Session
from services.daraja.security import Initiator
from services.money import MAX_AMOUNT, MIN_AMOUNT

_RECEIVER_IDENTIFIER = "11"  # the current docs; older integrations send "4"


async def reversal(
    session: Session,
    initiator: Initiator,
    transaction_id: str,
    amount: int,
    remarks: str,
    *,
    result_url: str,
    timeout_url: str,
    occasion: str = "",
) -> RequestAccepted:
    """Reverse the payment with receipt `transaction_id`; `amount` is its whole amount."""
    if not transaction_id.isalnum() or len(transaction_id) > 20:
        raise DarajaConfigError(f"TransactionID {transaction_id!r} is not an M-Pesa receipt")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DarajaConfigError(f"amount {amount!r} is not whole shillings")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise DarajaConfigError(f"amount {amount!r} is not 1–{MAX_AMOUNT:,} whole shillings")
    check_urls(result_url, timeout_url)
    body: dict[str, object] = {
        "Initiator": initiator.name,
        "SecurityCredential": initiator.credential(),
        "CommandID": "TransactionReversal",
        "TransactionID": transaction_id,
        "Amount": str(amount),
        "ReceiverParty": initiator.shortcode,
        "RecieverIdentifierType": _RECEIVER_IDENTIFIER,
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": fit_remarks(remarks),
        "Occasion": fit_remarks(occasion, "Occasion", optional=True),
    }
    return await send(session, "reversal", "/mpesa/reversal/v1/request", body, moves_money=True)
