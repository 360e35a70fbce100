"""What became of a push (POST /mpesa/stkpushquery/v1/query). Changes nothing: safe to repeat."""

from __future__ import annotations

from services.daraja._errors import (
    DarajaConfigError,
    DarajaProtocolError,
    DarajaUnavailable,
    DarajaUnknownOutcome,
)
from services.daraja._reasons import result_reason
from services.daraja._results import QueryStatus, StkQueryResult
from services.daraja._session import Session
from services.daraja._transport import error_fields, rejected
from services.daraja.mpesa_express._password import nairobi_timestamp, stk_password


async def stk_query(session: Session, checkout_request_id: str) -> StkQueryResult:
    """Ask Daraja what became of a push. Safe to repeat."""
    if not checkout_request_id:
        raise DarajaConfigError("CheckoutRequestID is empty")
    config = session.config
    timestamp = nairobi_timestamp(session.now())
    body: dict[str, object] = {
        "BusinessShortCode": int(config.shortcode),
        "Password": stk_password(config.shortcode, config.passkey, timestamp),
        "Timestamp": timestamp,
        "CheckoutRequestID": checkout_request_id,
    }
    try:
        reply = await session.post("stk_query", "/mpesa/stkpushquery/v1/query", body)
    except DarajaUnknownOutcome as exc:
        # A query changes nothing at Daraja, so "unknown" only means "ask again".
        raise DarajaUnavailable(str(exc)) from exc
    answer = reply.body
    if reply.status == 200 and isinstance(answer, dict) and "ResultCode" in answer:
        raw_code = answer.get("ResultCode")
        try:
            code = int(str(raw_code))
        except ValueError as exc:
            raise DarajaProtocolError(f"query ResultCode {raw_code!r} is not a number") from exc
        desc = str(answer.get("ResultDesc", ""))
        return StkQueryResult(
            checkout_request_id=checkout_request_id,
            status=QueryStatus.COMPLETED if code == 0 else QueryStatus.FAILED,
            result_code=code,
            result_desc=desc,
            reason=result_reason(code, desc),
        )
    error = error_fields(answer)
    if error is not None:
        message = error[1].lower()
        if "being processed" in message:
            return StkQueryResult(
                checkout_request_id,
                QueryStatus.PENDING,
                None,
                error[1],
                "waiting for the payer to answer the prompt",
            )
        if "does not exist" in message:
            return StkQueryResult(
                checkout_request_id,
                QueryStatus.NOT_FOUND,
                None,
                error[1],
                "M-Pesa has no record of this request",
            )
        raise rejected(reply.status, error)
    raise DarajaProtocolError(f"STK query got an unexpected answer (HTTP {reply.status})")
