"""What the Daraja stand-in remembers: its settings, what it received, and its open prompts."""

from __future__ import annotations

import asyncio
import enum
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from sandbox.daraja._operator_state import (
    SANDBOX_INITIATOR,
    SANDBOX_INITIATOR_PASSWORD,
    DeliveredResult,
    Delivery,
    OperatorStats,
    Payout,
    PayoutPlan,
    Reversal,
)
from sandbox.daraja._security import SandboxCertificate

NAIROBI = ZoneInfo("Africa/Nairobi")
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
PAYBILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"


class Outcome(enum.Enum):
    """What the payer (or M-Pesa) does after an accepted push."""

    SUCCESS = "success"
    CANCELLED = "cancelled"  # 1032
    UNREACHABLE = "unreachable"  # 1037
    WRONG_PIN = "wrong_pin"  # 2001
    INSUFFICIENT = "insufficient"  # 1
    EXPIRED = "expired"  # 1019
    NO_CALLBACK = "no_callback"  # paid, but the callback never comes (query knows)
    DUPLICATE = "duplicate"  # success callback delivered twice, one after the other
    DUPLICATE_CONCURRENT = "duplicate_concurrent"  # ... twice at the same moment
    BEFORE_RESPONSE = "before_response"  # success callback delivered before the push reply
    AMOUNT_MISMATCH = "amount_mismatch"  # success, but Amount differs from the request
    HOLD = "hold"  # pending until `await sandbox.release(checkout_id, outcome)`


class Fault(enum.Enum):
    NONE = "none"
    DOWN = "down"  # not listening: connection refused
    SLOW = "slow"  # accepts the push, then answers after `slow_seconds`
    BUSY = "busy"  # 500.003.02 on every push (and operator request)
    INTERNAL = "internal"  # operator requests: taken, then answered 500.003.1001


@dataclass
class SandboxStats:
    tokens_issued: int = 0
    pushes_accepted: int = 0
    queries: int = 0


@dataclass
class ReceivedPush:
    body: Any
    content_type: str
    authorization: str = ""
    error_code: str | None = None  # our refusal, or None when accepted
    checkout_id: str | None = None


@dataclass
class DeliveredCallback:
    checkout_id: str
    url: str
    body: dict[str, Any]
    status: int | None  # our server's answer; None when it could not be reached
    error: str | None = None


@dataclass
class Checkout:
    """One accepted push: a prompt on a phone until `result` is decided."""

    checkout_id: str
    merchant_id: str
    phone: str
    amount: int
    callback_url: str
    result: tuple[int, str] | None = None  # None while the prompt is open
    receipt: str | None = None  # MpesaReceiptNumber once paid
    created: float = field(default_factory=time.monotonic)


class SandboxState:
    """The settings a test may change, what was received, and what the endpoints share."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        *,
        shortcode: str = SANDBOX_SHORTCODE,
        passkey: str = SANDBOX_PASSKEY,
        account_type: str = PAYBILL,
        till: str | None = None,
        callback_delay: float = 0.05,
        token_ttl: int = 3599,
        expires_in_as_number: bool = False,
        timestamp_tolerance: timedelta = timedelta(minutes=5),
        spike_limit: int | None = None,
        slow_seconds: float = 5.0,
        clock: Callable[[], datetime] | None = None,
        b2c_shortcode: str | None = None,
        initiator_name: str = SANDBOX_INITIATOR,
        initiator_password: str = SANDBOX_INITIATOR_PASSWORD,
        utility_balance: int = 1_000_000,
    ) -> None:
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.shortcode = shortcode
        self.passkey = passkey
        self.account_type = account_type
        self.till = till
        self.callback_delay = callback_delay
        self.token_ttl = token_ttl
        self.expires_in_as_number = expires_in_as_number
        self.timestamp_tolerance = timestamp_tolerance
        self.spike_limit = spike_limit
        self.slow_seconds = slow_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self.default_outcome = Outcome.SUCCESS
        self.reject_all_tokens = False  # as if our keys belonged to another app
        # Accepted pushes past this many get their answer only when the sandbox stops (as
        # Fault.SLOW, but from the Nth push on): a process can be stopped mid-push.
        self.hold_answers_after: int | None = None
        # CheckoutRequestIDs for the next accepted pushes, in order: a fault to reproduce
        # (an id longer than any column, or one with control characters).
        self.next_checkout_ids: deque[str] = deque()

        # The operator APIs (B2C, Transaction Status, Account Balance, Reversal).
        self.b2c_shortcode = b2c_shortcode or shortcode
        self.initiator_name = initiator_name
        self.initiator_password = initiator_password
        self.utility_balance = utility_balance  # whole shillings; payouts and reversals take
        self.credential_locked = False  # every operator request ends with 8006
        self.certificate = SandboxCertificate()  # SecurityCredentials must decrypt with it
        self.payouts: dict[str, Payout] = {}  # by OriginatorConversationID
        self.reversals: dict[str, Reversal] = {}  # by the original receipt
        self.payout_plans: dict[str | None, deque[PayoutPlan]] = defaultdict(deque)
        self.reversal_plans: deque[Delivery] = deque()  # how the next reversals' results go
        self.results_delivered: list[DeliveredResult] = []
        self.operator_stats = OperatorStats()

        self.stats = SandboxStats()
        self.pushes: list[ReceivedPush] = []
        self.callbacks_delivered: list[DeliveredCallback] = []

        # Shared by the endpoint modules; tests use the methods instead.
        self.fault = Fault.NONE
        self.token: str | None = None
        self.token_expires: datetime | None = None
        self.sticky: dict[str, Outcome] = {}
        self.queued: dict[str | None, deque[Outcome]] = defaultdict(deque)
        self.checkouts: dict[str, Checkout] = {}
        self.held: dict[str, asyncio.Event] = {}
        self.held_outcome: dict[str, Outcome] = {}
        self.paid: list[tuple[datetime, str, int]] = []  # (the sandbox's clock, phone, amount)
        self.push_times: deque[float] = deque()
        self.receipts: set[str] = set()
        self.changed = asyncio.Condition()  # a push accepted, a result decided, a delivery
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()
        self.session: aiohttp.ClientSession | None = None  # for the callbacks we send
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None  # None while Fault.DOWN
        self.host = "127.0.0.1"
        self.port = 0

    def receiving_party(self) -> str:
        return self.shortcode if self.account_type == PAYBILL else (self.till or "")
