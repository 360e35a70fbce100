"""What the four operator APIs (B2C, Transaction Status, Account Balance, Reversal) share.

Each request carries the API operator's credential and two URLs; the answer
only says "accepted", and the outcome is POSTed to the ResultURL later.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from services.daraja._config import callback_url_problem
from services.daraja._errors import (
    DarajaConfigError,
    DarajaDuplicateRequest,
    DarajaProtocolError,
    DarajaUnavailable,
    DarajaUnknownOutcome,
)
from services.daraja._results import usable_id
from services.daraja._session import Session
from services.daraja._transport import error_fields, rejected
from services.daraja.security import Initiator

logger = logging.getLogger(__name__)

REMARKS_MIN, REMARKS_MAX = 2, 100
_DUPLICATE = "500.002.1001"
# Refused by the gateway before the request is read: nothing happened.
_REFUSED_BEFORE_PROCESSING = frozenset({"500.003.02", "500.003.03"})
_ORIGINATOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class RequestAccepted:
    """Daraja took the request; the outcome will be POSTed to the ResultURL."""

    conversation_id: str
    originator_conversation_id: str
    response_description: str


def require(initiator: Initiator | None) -> Initiator:
    if initiator is None:
        raise DarajaConfigError(
            "payouts are not configured: set DARAJA_INITIATOR_NAME, "
            "DARAJA_INITIATOR_PASSWORD and DARAJA_CERTIFICATE"
        )
    return initiator


def fit_remarks(text: str, field_name: str = "Remarks", *, optional: bool = False) -> str:
    """ASCII, 2–100 characters, as Daraja wants Remarks and Occassion; longer is refused."""
    cleaned = re.sub(r"[^\x20-\x7e]+", "", text)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if optional and not cleaned:
        return ""
    if len(cleaned) < REMARKS_MIN:
        raise DarajaConfigError(
            f"{field_name} {text!r} needs at least {REMARKS_MIN} letters or digits"
        )
    if len(cleaned) > REMARKS_MAX:
        raise DarajaConfigError(
            f"{field_name} is {len(cleaned)} characters; M-Pesa allows {REMARKS_MAX}"
        )
    return cleaned


def check_originator_id(value: str) -> str:
    if not _ORIGINATOR_ID.fullmatch(value):
        raise DarajaConfigError(
            f"OriginatorConversationID {value!r} must be 1-64 letters, digits, _ or -"
        )
    return value


def check_urls(result_url: str, timeout_url: str) -> None:
    for name, url in (("ResultURL", result_url), ("QueueTimeOutURL", timeout_url)):
        problem = callback_url_problem(url)
        if problem:
            raise DarajaConfigError(f"{name} {problem}")


async def send(
    session: Session, operation: str, path: str, body: dict[str, object], *, moves_money: bool
) -> RequestAccepted:
    """POST one operator request and read Daraja's "accepted".

    For a request that moves money, anything after sending that is not a clear
    refusal raises DarajaUnknownOutcome (or DarajaDuplicateRequest): ask
    Transaction Status, never resend with a new id. For a query, a lost answer
    is DarajaUnavailable: asking again changes nothing.
    """
    try:
        reply = await session.post(operation, path, body)
    except DarajaUnknownOutcome as exc:
        if moves_money:
            raise
        raise DarajaUnavailable(str(exc)) from exc
    answer = reply.body
    if reply.status == 200 and isinstance(answer, dict):
        conversation = answer.get("ConversationID")
        originator = answer.get("OriginatorConversationID")
        if str(answer.get("ResponseCode")) == "0" and conversation and usable_id(conversation):
            accepted = RequestAccepted(
                conversation_id=conversation,
                originator_conversation_id=originator if usable_id(originator) else "",
                response_description=str(answer.get("ResponseDescription", "")),
            )
            logger.info(
                "Daraja %s accepted conversation=%s originator=%s",
                operation,
                accepted.conversation_id,
                accepted.originator_conversation_id,
            )
            return accepted
    error = error_fields(answer)
    if error is not None and error[0] == _DUPLICATE:
        raise DarajaDuplicateRequest(
            f"Daraja has seen {body.get('OriginatorConversationID', 'this id')} before "
            f"({error[1]}): confirm it with Transaction Status"
        )
    if error is not None and (reply.status < 500 or error[0] in _REFUSED_BEFORE_PROCESSING):
        raise rejected(reply.status, error)
    if moves_money:
        raise DarajaUnknownOutcome(
            f"Daraja {operation} got an unexpected answer (HTTP {reply.status}); it may have "
            "been taken: confirm with Transaction Status before sending again"
        )
    if error is not None:
        raise rejected(reply.status, error)
    if reply.status >= 500:
        raise DarajaUnavailable(f"Daraja {operation} answered HTTP {reply.status}; ask again")
    raise DarajaProtocolError(f"Daraja {operation} got an unexpected answer (HTTP {reply.status})")
