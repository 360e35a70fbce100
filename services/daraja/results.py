"""Result and QueueTimeOut posts of B2C, Transaction Status, Account Balance and Reversal.

The URL a post arrives at says which product it answers (a failed result has
no parameters to tell them apart), so the caller passes the `Product`.
Parameters are found by `Key` (normalised: spaces dropped, case ignored),
never by position; result codes stay strings (`SFC_IC0003`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TypedDict

from services.daraja._config import NAIROBI
from services.daraja._errors import MalformedCallback
from services.daraja._reasons import payout_reason
from services.daraja._results import usable_id


class Product(StrEnum):
    B2C = "b2c"
    TRANSACTION_STATUS = "transaction_status"
    ACCOUNT_BALANCE = "account_balance"
    REVERSAL = "reversal"


class Verdict(StrEnum):
    SUCCESS = "success"
    LINE_FAILED = "line_failed"  # this request failed for good; the others may go on
    STOP_RUN = "stop_run"  # credential, role or funds: every further request fails too
    UNKNOWN = "unknown"  # not an outcome: confirm with Transaction Status


STOP_RUN_CODES = frozenset({"1", "21", "2001", "8006"})
# A result that does not settle the request: 15 is a duplicate id, R000001 "already reversed".
UNKNOWN_CODES = frozenset({"15", "R000001"})


def verdict(code: str) -> Verdict:
    if code == "0":
        return Verdict.SUCCESS
    if code in STOP_RUN_CODES:
        return Verdict.STOP_RUN
    if code in UNKNOWN_CODES:
        return Verdict.UNKNOWN
    return Verdict.LINE_FAILED


class TransactionState(StrEnum):
    """What Transaction Status says about the transaction asked about."""

    COMPLETED = "completed"
    FAILED = "failed"  # Cancelled, Declined, Expired, Failed: it did not move money
    PENDING = "pending"
    NOT_FOUND = "not_found"  # M-Pesa has no such transaction
    QUERY_FAILED = "query_failed"  # the query itself failed (credential, role): see reason


_FAILED_STATES = frozenset({"cancelled", "declined", "expired", "failed", "reversed"})
_NOT_FOUND_CODES = frozenset({"R000002", "2032"})


@dataclass(frozen=True, kw_only=True)
class OperatorResult:
    """What every result post carries."""

    product: Product
    result_code: str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str | None  # a failure may carry one too: never a proof of payment
    parameters: Mapping[str, object]  # keys normalised by `key()`
    reference: Mapping[str, object]  # ReferenceData, keys normalised (Occasion is echoed here)
    problems: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"

    @property
    def verdict(self) -> Verdict:
        return verdict(self.result_code)

    @property
    def reason(self) -> str:
        return payout_reason(self.result_code, self.result_desc)

    def param(self, name: str) -> object:
        return self.parameters.get(key(name))


@dataclass(frozen=True, kw_only=True)
class B2CResult(OperatorResult):
    amount: int | None = None
    receipt: str | None = None
    receiver_name: str | None = None  # "254712345678 - JANE WANJIKU"
    completed_at: datetime | None = None
    utility_available: int | None = None  # whole shillings left to pay out with
    registered_customer: bool | None = None


@dataclass(frozen=True, kw_only=True)
class TransactionStatusResult(OperatorResult):
    state: TransactionState
    receipt: str | None = None
    amount: int | None = None
    fee: Decimal | None = None  # from DebitPartyCharges "Fee For B2C Payment|KES|22.40"
    original_originator_id: str | None = None  # the OriginatorConversationID asked about
    credit_party: str | None = None
    finalised_at: datetime | None = None
    reason_type: str | None = None


@dataclass(frozen=True)
class AccountLine:
    name: str  # "Utility Account"
    currency: str
    current: Decimal
    available: Decimal
    reserved: Decimal
    uncleared: Decimal


@dataclass(frozen=True, kw_only=True)
class AccountBalanceResult(OperatorResult):
    accounts: tuple[AccountLine, ...] = ()

    @property
    def utility(self) -> AccountLine | None:
        return next((a for a in self.accounts if a.name.lower().startswith("utility")), None)

    @property
    def utility_available(self) -> int | None:
        """Whole shillings the Utility account can pay out (cents dropped)."""
        utility = self.utility
        return None if utility is None else int(utility.available)


@dataclass(frozen=True, kw_only=True)
class ReversalResult(OperatorResult):
    original_transaction_id: str | None = None
    amount: int | None = None
    charge: Decimal | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True)
class QueueTimeout:
    """Daraja gave up on the request in its queue: the outcome is NOT known (not a failure)."""

    product: Product
    originator_conversation_id: str
    conversation_id: str | None


class _Common(TypedDict):
    product: Product
    result_code: str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str | None
    parameters: Mapping[str, object]
    reference: Mapping[str, object]


AnyResult = B2CResult | TransactionStatusResult | AccountBalanceResult | ReversalResult


def key(name: str) -> str:
    return "".join(name.split()).lower()


def parse_result(body: object, product: Product) -> AnyResult:
    """A result post to `product`'s ResultURL, typed. Raises MalformedCallback."""
    result = body.get("Result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        raise MalformedCallback("no Result object")
    raw_code = result.get("ResultCode")
    if isinstance(raw_code, bool) or not isinstance(raw_code, int | str) or str(raw_code) == "":
        raise MalformedCallback(f"ResultCode {raw_code!r} is not a code")
    originator = result.get("OriginatorConversationID")
    conversation = result.get("ConversationID")
    if not usable_id(originator) or not originator:
        raise MalformedCallback(f"OriginatorConversationID {originator!r} is not an id")
    if not usable_id(conversation) or not conversation:
        raise MalformedCallback(f"ConversationID {conversation!r} is not an id")
    transaction = result.get("TransactionID")
    problems: list[str] = []
    common: _Common = {
        "product": product,
        "result_code": str(raw_code).strip(),
        "result_desc": str(result.get("ResultDesc", "")),
        "originator_conversation_id": originator,
        "conversation_id": conversation,
        "transaction_id": transaction if usable_id(transaction) and transaction else None,
        "parameters": _items(result.get("ResultParameters"), "ResultParameter"),
        "reference": _items(result.get("ReferenceData"), "ReferenceItem"),
    }
    params = common["parameters"]
    if product is Product.B2C:
        return B2CResult(
            **common,
            amount=_whole(params, "TransactionAmount", problems),
            receipt=_text(params, "TransactionReceipt"),
            receiver_name=_text(params, "ReceiverPartyPublicName"),
            completed_at=_time(params, "TransactionCompletedDateTime", "%d.%m.%Y %H:%M:%S"),
            utility_available=_floor(params, "B2CUtilityAccountAvailableFunds"),
            registered_customer=_yes_no(params, "B2CRecipientIsRegisteredCustomer"),
            problems=tuple(problems),
        )
    if product is Product.TRANSACTION_STATUS:
        return TransactionStatusResult(
            **common,
            state=_state(common["result_code"], _text(params, "TransactionStatus")),
            receipt=_text(params, "ReceiptNo"),
            amount=_whole(params, "Amount", problems),
            fee=_fee(_text(params, "DebitPartyCharges")),
            original_originator_id=_text(params, "OriginatorConversationID"),
            credit_party=_text(params, "CreditPartyName"),
            finalised_at=_time(params, "FinalisedTime", "%Y%m%d%H%M%S"),
            reason_type=_text(params, "ReasonType"),
            problems=tuple(problems),
        )
    if product is Product.ACCOUNT_BALANCE:
        return AccountBalanceResult(
            **common,
            accounts=_accounts(_text(params, "AccountBalance"), problems),
            problems=tuple(problems),
        )
    return ReversalResult(
        **common,
        original_transaction_id=_text(params, "OriginalTransactionID"),
        amount=_whole(params, "Amount", problems),
        charge=_decimal(params.get(key("Charge"))),
        completed_at=_time(params, "TransCompletedTime", "%Y%m%d%H%M%S"),
        problems=tuple(problems),
    )


def parse_queue_timeout(body: object, product: Product) -> QueueTimeout:
    """A QueueTimeOutURL post: undocumented, read as an echo keyed by OriginatorConversationID."""
    if not isinstance(body, dict):
        raise MalformedCallback("not a JSON object")
    inner = body.get("Result")
    source = inner if isinstance(inner, dict) else body
    originator = source.get("OriginatorConversationID")
    if not usable_id(originator) or not originator:
        raise MalformedCallback(f"OriginatorConversationID {originator!r} is not an id")
    conversation = source.get("ConversationID")
    return QueueTimeout(
        product, originator, conversation if usable_id(conversation) and conversation else None
    )


def _items(container: object, list_key: str) -> dict[str, object]:
    items = container.get(list_key) if isinstance(container, dict) else None
    if isinstance(items, dict):
        items = [items]  # a single item comes as an object
    out: dict[str, object] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("Key"), str):
            out[key(item["Key"])] = item.get("Value")
    return out


def _text(params: Mapping[str, object], name: str) -> str | None:
    value = params.get(key(name))
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _whole(params: Mapping[str, object], name: str, problems: list[str]) -> int | None:
    value = params.get(key(name))
    number = _decimal(value)
    if number is None:
        if value is not None:
            problems.append(f"{name} {value!r} is not a number")
        return None
    if number != number.to_integral_value():
        problems.append(f"{name} {value!r} is not whole shillings")
        return None
    return int(number)


def _floor(params: Mapping[str, object], name: str) -> int | None:
    number = _decimal(params.get(key(name)))
    return None if number is None else int(number.to_integral_value(rounding="ROUND_FLOOR"))


def _yes_no(params: Mapping[str, object], name: str) -> bool | None:
    text = _text(params, name)
    return None if text is None else text.upper().startswith("Y")


def _time(params: Mapping[str, object], name: str, pattern: str) -> datetime | None:
    text = _text(params, name)
    if text is None:
        return None
    try:
        return datetime.strptime(text, pattern).replace(tzinfo=NAIROBI)
    except ValueError:
        return None


def _fee(text: str | None) -> Decimal | None:
    # "Fee For B2C Payment|KES|22.40"
    return None if text is None else _decimal(text.rpartition("|")[2])


def _state(code: str, status: str | None) -> TransactionState:
    if code in _NOT_FOUND_CODES:
        return TransactionState.NOT_FOUND
    if code != "0":
        return TransactionState.QUERY_FAILED
    lowered = (status or "").lower()
    if lowered == "completed":
        return TransactionState.COMPLETED
    if lowered in _FAILED_STATES:
        return TransactionState.FAILED
    return TransactionState.PENDING


def _accounts(text: str | None, problems: list[str]) -> tuple[AccountLine, ...]:
    if text is None:
        return ()
    lines: list[AccountLine] = []
    for chunk in html.unescape(text).split("&"):
        fields = chunk.split("|")
        numbers = [_decimal(f) for f in fields[2:6]]
        if len(fields) < 6 or any(n is None for n in numbers):
            problems.append(f"AccountBalance part {chunk!r} is not name|currency|4 amounts")
            continue
        current, available, reserved, uncleared = (n for n in numbers if n is not None)
        lines.append(
            AccountLine(
                fields[0].strip(), fields[1].strip(), current, available, reserved, uncleared
            )
        )
    return tuple(lines)
