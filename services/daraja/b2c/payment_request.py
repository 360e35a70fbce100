"""One B2C payout. The OriginatorConversationID is the caller's, stored before this call.

Sending the same id again is safe (Daraja refuses a duplicate with
500.002.1001); sending with a new id after an unknown outcome may pay twice.
"""

from __future__ import annotations

from enum import StrEnum

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
from services.phones import PhoneError, msisdn

B2C_MIN_AMOUNT = 10  # M-Pesa's minimum for a B2C payout (result 2 below it)
B2C_MAX_AMOUNT = 250_000  # per payout (result 3 above it)


class B2CCommand(StrEnum):
    BUSINESS = "BusinessPayment"  # registered M-Pesa customers
    SALARY = "SalaryPayment"  # no longer pays unregistered numbers
    PROMOTION = "PromotionPayment"


async def b2c_payment(
    session: Session,
    initiator: Initiator,
    originator_id: str,
    phone_e164: str,
    amount: int,
    remarks: str,
    occasion: str,
    result_url: str,
    timeout_url: str,
    command: B2CCommand = B2CCommand.BUSINESS,
) -> RequestAccepted:
    check_originator_id(originator_id)
    try:
        phone = msisdn(phone_e164)
    except PhoneError as exc:
        raise DarajaConfigError(str(exc)) from exc
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise DarajaConfigError(f"amount {amount!r} is not whole shillings")
    if not B2C_MIN_AMOUNT <= amount <= B2C_MAX_AMOUNT:
        raise DarajaConfigError(
            f"amount KES {amount:,} is outside M-Pesa's payout range "
            f"KES {B2C_MIN_AMOUNT}–{B2C_MAX_AMOUNT:,}"
        )
    check_urls(result_url, timeout_url)
    body: dict[str, object] = {
        "OriginatorConversationID": originator_id,
        "InitiatorName": initiator.name,
        "SecurityCredential": initiator.credential(),
        "CommandID": str(B2CCommand(command)),
        "Amount": str(amount),
        "PartyA": initiator.shortcode,
        "PartyB": phone,
        "Remarks": fit_remarks(remarks),
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
        "Occassion": fit_remarks(occasion, "Occassion"),
    }
    return await send(session, "b2c", "/mpesa/b2c/v3/paymentrequest", body, moves_money=True)
