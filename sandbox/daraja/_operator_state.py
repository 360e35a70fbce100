"""What the operator APIs (B2C, Transaction Status, Account Balance, Reversal) remember."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SANDBOX_B2C_SHORTCODE = "174379"  # a paybill converted to "one account": receives and pays
SANDBOX_INITIATOR = "testapi"
SANDBOX_INITIATOR_PASSWORD = "Safaricom999!*!"

# Result codes a test or the demo can script, with Daraja's descriptions.
PAYOUT_RESULTS: dict[str, str] = {
    "0": "The service request is processed successfully.",
    "1": "The balance is insufficient for the transaction.",
    "2": "Declined due to limit rule: less than the minimum transaction amount.",
    "3": "Declined due to limit rule: greater than the maximum transaction amount.",
    "4": "Declined due to limit rule: would exceed daily transfer limit.",
    "8": "Declined due to limit rule: would exceed the maximum balance.",
    "11": "The DebitParty is in an invalid state.",
    "15": "Duplicate OriginatorConversationID.",
    "17": "Internal failure.",
    "21": "The initiator is not allowed to initiate this request.",
    "26": "System busy. The service request is rejected.",
    "2001": "The initiator information is invalid.",
    "2006": "Declined due to account rule: The account status does not allow this transaction.",
    "2028": "The request is not permitted according to product assignment.",
    "2040": "Credit Party customer type (Unregistered or Registered Customer) can't be supported.",
    "8006": "The security credential is locked.",
    "SFC_IC0003": "The operator does not exist.",
}


class Delivery(enum.Enum):
    """How the outcome of a payout reaches ResultURL (the outcome itself is the code)."""

    NORMAL = "normal"
    TWICE = "twice"  # the same result posted twice
    LOST = "lost"  # never posted: only Transaction Status knows
    QUEUE_TIMEOUT = "queue_timeout"  # a QueueTimeOutURL post instead of the result
    BEFORE_RESPONSE = "before_response"  # posted before the synchronous "accepted"


@dataclass(frozen=True)
class PayoutPlan:
    code: str = "0"
    delivery: Delivery = Delivery.NORMAL


@dataclass
class Payout:
    """One accepted B2C request and its (already decided) outcome."""

    originator_id: str
    conversation_id: str
    phone: str
    amount: int
    command: str
    result_url: str
    timeout_url: str
    code: str
    desc: str
    transaction_id: str
    completed_at: datetime
    delivery: Delivery

    @property
    def paid(self) -> bool:
        return self.code == "0"


@dataclass
class Reversal:
    transaction_id: str  # the reversal's own receipt
    original: str
    amount: int
    code: str
    completed_at: datetime
    originator_id: str = ""  # Daraja's OriginatorConversationID for the request that made it
    conversation_id: str = ""
    phone: str = ""


@dataclass
class DeliveredResult:
    """A result or QueueTimeOut post the sandbox made (or tried to make)."""

    api: str  # "b2c", "transaction_status", "account_balance", "reversal"
    key: str  # the OriginatorConversationID it is about (ours for B2C, Daraja's otherwise)
    url: str
    body: dict[str, Any]
    status: int | None
    error: str | None = None
    timeout: bool = False
    at: float = 0.0  # time.monotonic() when the post was answered (for latency benchmarks)


@dataclass
class OperatorStats:
    payouts_accepted: int = 0
    status_queries: int = 0
    balance_queries: int = 0
    reversals_accepted: int = 0
    refused: list[str] = field(default_factory=list)  # errorCodes of refused requests
