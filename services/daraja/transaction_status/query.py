"""Ask what became of a transaction (POST /mpesa/transactionstatus/v1/query).

Changes nothing, so safe to repeat; the answer comes to the ResultURL.
"""

from __future__ import annotations

from services.daraja._errors import DarajaConfigError
from services.daraja._initiated import (
    RequestAccepted,
    check_originator_id,
    check_urls,
    fit_remarks,
    send,
)
from services.daraja._session import Session
from services.daraja.security import Initiator

_SHORTCODE_IDENTIFIER = "4"


async def transaction_status(
    session: Session,
    initiator: Initiator,
    *,
    result_url: str,
    timeout_url: str,
    originator_id: str | None = None,
    transaction_id: str | None = None,
    remarks: str = "Payout check",
    occasion: str = "",
) -> RequestAccepted:
    """By `originator_id` (our OriginatorConversationID) or `transaction_id` (a receipt).

    Put your own key in `occasion`: the result echoes it in ReferenceData.
    """
    if (originator_id is None) == (transaction_id is None):
        raise DarajaConfigError("give exactly one of originator_id and transaction_id")
    check_urls(result_url, timeout_url)
    body: dict[str, object] = {
        "Initiator": initiator.name,
        "SecurityCredential": initiator.credential(),
        "CommandID": "TransactionStatusQuery",
        "PartyA": initiator.shortcode,
        "IdentifierType": _SHORTCODE_IDENTIFIER,
        "ResultURL": result_url,
        "QueueTimeOutURL": timeout_url,
        "Remarks": fit_remarks(remarks),
        "Occasion": fit_remarks(occasion, "Occasion", optional=True),
    }
    if originator_id is not None:
        body["OriginalConversationID"] = check_originator_id(originator_id)
    else:
        assert transaction_id is not None
        if not transaction_id.isalnum() or len(transaction_id) > 20:
            raise DarajaConfigError(f"TransactionID {transaction_id!r} is not an M-Pesa receipt")
        body["TransactionID"] = transaction_id
    return await send(
        session,
        "transaction_status",
        "/mpesa/transactionstatus/v1/query",
        body,
        moves_money=False,
    )
