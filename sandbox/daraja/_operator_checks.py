"""What Daraja checks in an operator request (B2C, Transaction Status, Account Balance, Reversal)."""

from __future__ import annotations

import re
from typing import Any

from sandbox.daraja._checks import _PHONE, Refusal, _callback_url_ok, bad
from sandbox.daraja._state import SandboxState

B2C_COMMANDS = ("BusinessPayment", "SalaryPayment", "PromotionPayment")
_ORIGINATOR_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_RECEIPT = re.compile(r"[A-Z0-9]{8,20}")


def text_2_100(body: dict[str, Any], name: str, *, optional: bool = False) -> str:
    value = body.get(name)
    if optional and value in (None, ""):
        return ""
    if not isinstance(value, str) or not 2 <= len(value) <= 100:
        raise bad(name)
    return value


def whole_amount(body: dict[str, Any]) -> int:
    amount = body.get("Amount")
    if isinstance(amount, str) and amount.isdigit():
        amount = int(amount)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise bad("Amount")
    return amount


def urls(body: dict[str, Any]) -> None:
    for name in ("ResultURL", "QueueTimeOutURL"):
        if not _callback_url_ok(body.get(name)):
            raise bad(name)


def operator(body: dict[str, Any], name_field: str) -> None:
    name = body.get(name_field)
    if not isinstance(name, str) or not name:
        raise bad(name_field)
    if not isinstance(body.get("SecurityCredential"), str) or not body["SecurityCredential"]:
        raise bad("SecurityCredential")


def credential_code(state: SandboxState, body: dict[str, Any], name_field: str) -> str | None:
    """The result code a bad operator or credential gets (2001, 8006), or None."""
    if body.get(name_field) != state.initiator_name:
        return "2001"
    if not state.certificate.decrypts_to(body.get("SecurityCredential"), state.initiator_password):
        return "2001"  # a wrong password, or the other environment's certificate
    if state.credential_locked:
        return "8006"
    return None


def check_b2c(body: dict[str, Any]) -> tuple[str, str, int]:
    """(OriginatorConversationID, PartyB, Amount) of a well-formed B2C request."""
    originator = body.get("OriginatorConversationID")
    if not isinstance(originator, str) or not _ORIGINATOR_ID.fullmatch(originator):
        raise bad("OriginatorConversationID")
    operator(body, "InitiatorName")
    if body.get("CommandID") not in B2C_COMMANDS:
        raise bad("CommandID")
    amount = whole_amount(body)
    if not str(body.get("PartyA", "")).isdigit():
        raise bad("PartyA")
    party_b = str(body.get("PartyB", ""))
    if not _PHONE.fullmatch(party_b):
        raise bad("PartyB")
    text_2_100(body, "Remarks")
    text_2_100(body, "Occassion")
    urls(body)
    return originator, party_b, amount


def check_status(body: dict[str, Any]) -> None:
    operator(body, "Initiator")
    if body.get("CommandID") != "TransactionStatusQuery":
        raise bad("CommandID")
    original = body.get("OriginalConversationID")
    receipt = body.get("TransactionID")
    if not original and not receipt:
        raise bad("TransactionID")
    if receipt and (not isinstance(receipt, str) or not _RECEIPT.fullmatch(receipt)):
        raise bad("TransactionID")
    if original and (not isinstance(original, str) or not _ORIGINATOR_ID.fullmatch(original)):
        raise bad("OriginalConversationID")
    _shortcode_party(body, "PartyA")
    text_2_100(body, "Remarks")
    text_2_100(body, "Occasion", optional=True)
    urls(body)


def check_balance(body: dict[str, Any]) -> None:
    operator(body, "Initiator")
    if body.get("CommandID") != "AccountBalance":
        raise bad("CommandID")
    _shortcode_party(body, "PartyA")
    text_2_100(body, "Remarks")
    urls(body)


def check_reversal(body: dict[str, Any]) -> tuple[str, int]:
    operator(body, "Initiator")
    if body.get("CommandID") != "TransactionReversal":
        raise bad("CommandID")
    receipt = body.get("TransactionID")
    if not isinstance(receipt, str) or not _RECEIPT.fullmatch(receipt):
        raise bad("TransactionID")
    amount = whole_amount(body)
    if not str(body.get("ReceiverParty", "")).isdigit():
        raise bad("ReceiverParty")
    if str(body.get("RecieverIdentifierType")) not in ("11", "4"):
        raise bad("RecieverIdentifierType")
    text_2_100(body, "Remarks")
    text_2_100(body, "Occasion", optional=True)
    urls(body)
    return receipt, amount


def _shortcode_party(body: dict[str, Any], name: str) -> None:
    if not str(body.get(name, "")).isdigit():
        raise bad(name)
    if str(body.get("IdentifierType")) != "4":
        raise bad("IdentifierType")


def duplicate() -> Refusal:
    return Refusal(500, "500.002.1001", "Duplicate OriginatorConversationID.")
