"""The STK push: a PIN prompt on the payer's phone (POST /mpesa/stkpush/v1/processrequest).

Never retried once it may have reached Daraja: a second push is a second prompt.
"""

from __future__ import annotations

import logging
import re

from services.daraja._errors import DarajaConfigError, DarajaUnknownOutcome
from services.daraja._results import StkPushAccepted, usable_id
from services.daraja._session import Session
from services.daraja._transport import error_fields, rejected
from services.daraja.mpesa_express._password import nairobi_timestamp, stk_password
from services.money import MAX_AMOUNT, MIN_AMOUNT
from services.phones import PhoneError, msisdn

logger = logging.getLogger(__name__)

ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13
_INTERNAL_ERROR = "500.003.1001"  # does not say whether the prompt went out


async def stk_push(
    session: Session, phone_e164: str, amount: int, account_reference: str, transaction_desc: str
) -> StkPushAccepted:
    """Put a PIN prompt on the payer's phone.

    Raises DarajaRejected (nothing happened), DarajaUnavailable (nothing
    sent) or DarajaUnknownOutcome (a prompt may be showing: do not resend).
    """
    config = session.config
    phone = _checked_phone(phone_e164)
    if isinstance(amount, bool) or not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise DarajaConfigError(f"amount {amount!r} is not 1–{MAX_AMOUNT:,} whole shillings")
    reference = fit_reference(account_reference)
    description = fit_description(transaction_desc)
    timestamp = nairobi_timestamp(session.now())
    body: dict[str, object] = {
        "BusinessShortCode": int(config.shortcode),
        "Password": stk_password(config.shortcode, config.passkey, timestamp),
        "Timestamp": timestamp,
        "TransactionType": str(config.transaction_type),
        "Amount": amount,
        "PartyA": phone,
        "PartyB": int(config.receiving_party),
        "PhoneNumber": phone,
        "CallBackURL": config.callback_url,
        "AccountReference": reference,
        "TransactionDesc": description,
    }
    reply = await session.post("stk_push", "/mpesa/stkpush/v1/processrequest", body)
    if reply.status == 200 and isinstance(reply.body, dict):
        answer = reply.body
        checkout = answer.get("CheckoutRequestID")
        merchant = str(answer.get("MerchantRequestID", ""))
        if str(answer.get("ResponseCode")) == "0" and usable_id(checkout) and checkout:
            if not usable_id(merchant):
                merchant = ""  # kept only for reading; the CheckoutRequestID is the key
            accepted = StkPushAccepted(
                merchant_request_id=merchant,
                checkout_request_id=checkout,
                customer_message=str(answer.get("CustomerMessage", "")),
            )
            logger.info(
                "STK push accepted checkout=%s merchant=%s amount=%d",
                accepted.checkout_request_id,
                accepted.merchant_request_id,
                amount,
            )
            return accepted
    error = error_fields(reply.body)
    # A Daraja error body is a refusal, except "internal error", which does not
    # say whether the prompt went out.
    if error is not None and reply.status >= 400 and error[0] != _INTERNAL_ERROR:
        raise rejected(reply.status, error)
    raise DarajaUnknownOutcome(
        f"STK push got an unexpected answer (HTTP {reply.status}); the prompt may "
        "have been sent: check with the STK query before resending"
    )


def fit_reference(text: str) -> str:
    """A valid AccountReference (≤ 12): letters, digits, spaces, dashes; longer is refused."""
    return _fit(text, ACCOUNT_REFERENCE_MAX, "AccountReference")


def fit_description(text: str) -> str:
    """A valid TransactionDesc (≤ 13): letters, digits, spaces, dashes; longer is refused."""
    return _fit(text, TRANSACTION_DESC_MAX, "TransactionDesc")


def _fit(text: str, limit: int, field_name: str) -> str:
    # Letters, digits and a few separators: it shows on the payer's prompt.
    cleaned = re.sub(r"[^A-Za-z0-9 \-]+", "", text)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise DarajaConfigError(f"{field_name} {text!r} has no letters or digits")
    if len(cleaned) > limit:
        raise DarajaConfigError(
            f"{field_name} {cleaned!r} is {len(cleaned)} characters; M-Pesa allows {limit}"
        )
    return cleaned


def _checked_phone(phone_e164: str) -> str:
    try:
        return msisdn(phone_e164)
    except PhoneError as exc:
        raise DarajaConfigError(str(exc)) from exc
