"""A local stand-in for Safaricom Daraja (OAuth, STK push, STK query, callbacks).

It refuses what Daraja refuses, with Daraja's error bodies, and lets a test or
the demo choose what the payer does. Imports nothing of Callsheet's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import json
import logging
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
PAYBILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"
REJECTED_CALLBACK_WORDS = ("mpesa", "m-pesa", "safaricom", "sql", "query", "exec", "ngrok")
_REJECTED_CALLBACK_HOSTS = ("ngrok", "loca.lt", "localtunnel", "serveo", "trycloudflare")
_PHONE = re.compile(r"254[17][0-9]{8}")


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


_RESULTS: dict[Outcome, tuple[int, str]] = {
    Outcome.CANCELLED: (1032, "Request cancelled by user"),
    Outcome.UNREACHABLE: (1037, "DS timeout user cannot be reached"),
    Outcome.WRONG_PIN: (2001, "The initiator information is invalid."),
    Outcome.INSUFFICIENT: (1, "The balance is insufficient for the transaction."),
    Outcome.EXPIRED: (1019, "Transaction has expired"),
}
_SUCCESS = (0, "The service request is processed successfully.")
_RULE_LIMITED = (17, "Rule limited.")
_WRONG_PARTY = (2028, "The request is not permitted according to product assignment.")


class Fault(enum.Enum):
    NONE = "none"
    DOWN = "down"  # not listening: connection refused
    SLOW = "slow"  # accepts the push, then answers after `slow_seconds`
    BUSY = "busy"  # 500.003.02 on every push


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
class _Checkout:
    checkout_id: str
    merchant_id: str
    phone: str
    amount: int
    callback_url: str
    result: tuple[int, str] | None = None  # None while the prompt is open
    created: float = field(default_factory=time.monotonic)


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.status, self.code, self.message = status, code, message


def _bad(field_name: str) -> _Refusal:
    return _Refusal(400, "400.002.02", f"Bad Request - Invalid {field_name}")


def _wrong_credentials() -> _Refusal:
    return _Refusal(500, "500.001.1001", "Wrong credentials")


class DarajaSandbox:
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

        self.stats = SandboxStats()
        self.pushes: list[ReceivedPush] = []
        self.callbacks_delivered: list[DeliveredCallback] = []
        self._fault = Fault.NONE
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._sticky: dict[str, Outcome] = {}
        self._next: dict[str | None, deque[Outcome]] = defaultdict(deque)
        self._checkouts: dict[str, _Checkout] = {}
        self._held: dict[str, asyncio.Event] = {}
        self._held_outcome: dict[str, Outcome] = {}
        self._paid: list[tuple[float, str, int]] = []  # (monotonic, phone, amount)
        self._push_times: deque[float] = deque()
        self._receipts: set[str] = set()
        self._delivered_changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._session: aiohttp.ClientSession | None = None
        self._host = "127.0.0.1"
        self._port = 0

    # lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(middlewares=[self._daraja_errors])
        app.router.add_get("/oauth/v1/generate", self._oauth)
        app.router.add_post("/mpesa/stkpush/v1/processrequest", self._push)
        app.router.add_post("/mpesa/stkpushquery/v1/query", self._query)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._host = host
        await self._listen(port)

    async def stop(self) -> None:
        self._stopping.set()
        for event in self._held.values():
            event.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> DarajaSandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self._host, port)
        await self._site.start()
        server = self._site._server
        assert isinstance(server, asyncio.Server)
        self._port = server.sockets[0].getsockname()[1]

    async def set_fault(self, fault: Fault) -> None:
        """DOWN stops listening (connection refused); anything else listens again."""
        if fault is Fault.DOWN and self._site is not None:
            await self._site.stop()
            self._site = None
            server = self._runner.server if self._runner is not None else None
            for connection in server.connections if server is not None else []:
                connection.force_close()  # kept-alive connections die with the server
            for _ in range(100):  # let the closes reach connection_lost
                if server is None or not server.connections:
                    break
                await asyncio.sleep(0)
        elif fault is not Fault.DOWN and self._site is None and self._runner is not None:
            await self._listen(self._port)
        self._fault = fault

    # test and demo hooks

    def next_outcome(self, phone: str | None, outcome: Outcome) -> None:
        """The next push to `phone` (any phone when None) ends with `outcome`."""
        self._next[phone].append(outcome)

    def set_outcome(self, phone: str, outcome: Outcome) -> None:
        """Every push to `phone` ends with `outcome` (unless a next_outcome is queued)."""
        self._sticky[phone] = outcome

    def expire_tokens(self) -> None:
        self._token_expires = self.clock() - timedelta(seconds=1)

    async def release(self, checkout_id: str, outcome: Outcome = Outcome.SUCCESS) -> None:
        """Let a HOLD push end with `outcome` and wait for its callback to be delivered."""
        before = len(self.delivered_for(checkout_id))
        self._held_outcome[checkout_id] = outcome
        self._held[checkout_id].set()
        await self.wait_for_callback(checkout_id, count=before + 1)

    def delivered_for(self, checkout_id: str) -> list[DeliveredCallback]:
        return [c for c in self.callbacks_delivered if c.checkout_id == checkout_id]

    async def wait_for_callback(self, checkout_id: str, count: int = 1) -> list[DeliveredCallback]:
        async with self._delivered_changed:
            await self._delivered_changed.wait_for(
                lambda: len(self.delivered_for(checkout_id)) >= count
            )
        return self.delivered_for(checkout_id)

    async def wait_for_pushes(self, accepted: int) -> list[ReceivedPush]:
        """Wait until this many pushes have been accepted (a prompt is on each phone)."""
        async with self._delivered_changed:
            await self._delivered_changed.wait_for(lambda: self.stats.pushes_accepted >= accepted)
        return [p for p in self.pushes if p.checkout_id is not None]

    async def wait_for_result(self, checkout_id: str) -> tuple[int, str]:
        """Wait until the payer's answer is decided (with or without a callback)."""
        checkout = self._checkouts[checkout_id]
        async with self._delivered_changed:
            await self._delivered_changed.wait_for(lambda: checkout.result is not None)
        assert checkout.result is not None
        return checkout.result

    def result_of(self, checkout_id: str) -> tuple[int, str] | None:
        return self._checkouts[checkout_id].result

    # HTTP handlers

    @web.middleware
    async def _daraja_errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Refusal as refusal:
            return self._error(refusal)
        except web.HTTPMethodNotAllowed:
            return self._error(_Refusal(405, "405.001", "Method Not Allowed"))
        except web.HTTPNotFound:
            return self._error(_Refusal(404, "404.001.01", "Resource not found"))

    def _error(self, refusal: _Refusal) -> web.Response:
        body = {
            "requestId": f"{secrets.randbelow(99999)}-{secrets.randbelow(9999999)}-1",
            "errorCode": refusal.code,
            "errorMessage": refusal.message,
        }
        return web.json_response(body, status=refusal.status)

    async def _oauth(self, request: web.Request) -> web.Response:
        expected = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode())
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme != "Basic" or not secrets.compare_digest(given.encode(), expected):
            raise _Refusal(400, "400.008.01", "Invalid Authentication passed")
        if request.query.get("grant_type") != "client_credentials":
            raise _Refusal(400, "400.008.02", "Invalid grant type passed")
        self._token = secrets.token_urlsafe(21)
        self._token_expires = self.clock() + timedelta(seconds=self.token_ttl)
        self.stats.tokens_issued += 1
        expires: int | str = self.token_ttl if self.expires_in_as_number else str(self.token_ttl)
        return web.json_response({"access_token": self._token, "expires_in": expires})

    def _check_token(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        valid = (
            scheme == "Bearer"
            and not self.reject_all_tokens
            and self._token is not None
            and self._token_expires is not None
            and self.clock() < self._token_expires
            and secrets.compare_digest(token.encode(), self._token.encode())
        )
        if not valid:
            raise _Refusal(404, "404.001.03", "Invalid Access Token")

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            # Daraja does not read the body then, and blames the first field.
            raise _bad("BusinessShortCode")
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            raise _bad("BusinessShortCode") from exc
        if not isinstance(body, dict):
            raise _bad("BusinessShortCode")
        return body

    def _check_credentials(self, body: dict[str, Any]) -> None:
        shortcode = str(body.get("BusinessShortCode", ""))
        if not shortcode.isdigit():
            raise _bad("BusinessShortCode")
        timestamp = body.get("Timestamp")
        if not isinstance(timestamp, str) or not re.fullmatch(r"[0-9]{14}", timestamp):
            raise _bad("Timestamp")
        try:
            sent_at = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
        except ValueError as exc:
            raise _bad("Timestamp") from exc
        if shortcode != self.shortcode:
            raise _Refusal(500, "500.001.1001", "Merchant does not exist")
        expected = base64.b64encode(f"{shortcode}{self.passkey}{timestamp}".encode()).decode()
        password = body.get("Password")
        if not isinstance(password, str) or not secrets.compare_digest(password, expected):
            raise _wrong_credentials()
        if abs(sent_at - self.clock()) > self.timestamp_tolerance:
            raise _wrong_credentials()

    async def _push(self, request: web.Request) -> web.Response:
        record = ReceivedPush(
            body=None,
            content_type=request.content_type,
            authorization=request.headers.get("Authorization", ""),
        )
        self.pushes.append(record)
        try:
            self._check_token(request)
            record.body = body = await self._json_body(request)
            checkout = self._accept(body)
        except _Refusal as refusal:
            record.error_code = refusal.code
            raise
        record.checkout_id = checkout.checkout_id
        self.stats.pushes_accepted += 1
        outcome = self._choose_outcome(checkout.phone)
        transaction = body["TransactionType"]
        party_b = str(body["PartyB"])
        forced: tuple[int, str] | None = None
        if transaction != self.account_type or party_b != self._receiving_party():
            forced = _WRONG_PARTY
        elif self._paid_recently(checkout.phone, checkout.amount):
            forced = _RULE_LIMITED
        if outcome is Outcome.HOLD:
            self._held[checkout.checkout_id] = asyncio.Event()
        if outcome is Outcome.BEFORE_RESPONSE and forced is None:
            await self._finish(checkout, Outcome.SUCCESS, None)
        else:
            self._spawn(self._later(checkout, outcome, forced))
        async with self._delivered_changed:
            self._delivered_changed.notify_all()  # for wait_for_pushes
        held = self.hold_answers_after is not None and (
            self.stats.pushes_accepted > self.hold_answers_after
        )
        if held:
            await self._stopping.wait()
        elif self._fault is Fault.SLOW:
            # The push was taken (a prompt is on the phone); only the answer is late.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.slow_seconds)
        return web.json_response(
            {
                "MerchantRequestID": checkout.merchant_id,
                "CheckoutRequestID": checkout.checkout_id,
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        )

    def _accept(self, body: dict[str, Any]) -> _Checkout:
        self._check_fields(body)
        self._check_credentials(body)
        if self._fault is Fault.BUSY or self._spiking():
            raise _Refusal(500, "500.003.02", "Spike arrest violation")
        phone = body["PhoneNumber"]
        if any(c.phone == phone and c.result is None for c in self._checkouts.values()):
            raise _Refusal(
                500,
                "500.001.1001",
                "Unable to lock subscriber, a transaction is already in process for the "
                "current subscriber",
            )
        now = self.clock().astimezone(NAIROBI)
        serial = len(self._checkouts) + 1
        checkout = _Checkout(
            checkout_id=(
                self.next_checkout_ids.popleft()
                if self.next_checkout_ids
                else f"ws_CO_{now:%d%m%Y%H%M%S}{serial:03d}{phone[-9:]}"
            ),
            merchant_id=f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{serial}",
            phone=phone,
            amount=int(body["Amount"]),
            callback_url=body["CallBackURL"],
        )
        self._checkouts[checkout.checkout_id] = checkout
        return checkout

    def _check_fields(self, body: dict[str, Any]) -> None:
        if not str(body.get("BusinessShortCode", "")).isdigit():
            raise _bad("BusinessShortCode")
        if body.get("TransactionType") not in (PAYBILL, BUY_GOODS):
            raise _bad("TransactionType")
        amount = body.get("Amount")
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 250_000:
            raise _bad("Amount")
        for name in ("PartyA", "PhoneNumber"):
            if not _PHONE.fullmatch(str(body.get(name, ""))):
                raise _bad(name)
        if not str(body.get("PartyB", "")).isdigit():
            raise _bad("PartyB")
        if not _callback_url_ok(body.get("CallBackURL")):
            raise _bad("CallBackURL")
        reference = body.get("AccountReference")
        if not isinstance(reference, str) or not 0 < len(reference) <= 12:
            raise _bad("AccountReference")
        description = body.get("TransactionDesc")
        if not isinstance(description, str) or not 0 < len(description) <= 13:
            raise _bad("TransactionDesc")

    def _receiving_party(self) -> str:
        return self.shortcode if self.account_type == PAYBILL else (self.till or "")

    def _spiking(self) -> bool:
        if self.spike_limit is None:
            return False
        now = time.monotonic()
        while self._push_times and now - self._push_times[0] > 1.0:
            self._push_times.popleft()
        self._push_times.append(now)
        return len(self._push_times) > self.spike_limit

    def _paid_recently(self, phone: str, amount: int) -> bool:
        now = time.monotonic()
        return any(p == phone and a == amount and now - t < 120 for t, p, a in self._paid)

    def _choose_outcome(self, phone: str) -> Outcome:
        for key in (phone, None):
            if self._next[key]:
                return self._next[key].popleft()
        return self._sticky.get(phone, self.default_outcome)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _later(
        self, checkout: _Checkout, outcome: Outcome, forced: tuple[int, str] | None
    ) -> None:
        await asyncio.sleep(self.callback_delay)  # the payer reading the prompt
        if forced is not None:
            await self._finish(checkout, Outcome.SUCCESS, forced)
            return
        if outcome is Outcome.HOLD:
            await self._held[checkout.checkout_id].wait()
            if self._stopping.is_set():
                return
            outcome = self._held_outcome.pop(checkout.checkout_id, Outcome.SUCCESS)
        await self._finish(checkout, outcome, None)

    async def _finish(
        self, checkout: _Checkout, outcome: Outcome, forced: tuple[int, str] | None
    ) -> None:
        result = forced or _RESULTS.get(outcome, _SUCCESS)
        async with self._delivered_changed:
            checkout.result = result
            self._delivered_changed.notify_all()
        body = self._callback_body(checkout, outcome, result)
        if result[0] == 0:
            self._paid.append((time.monotonic(), checkout.phone, checkout.amount))
        if outcome is Outcome.NO_CALLBACK:
            return
        if outcome is Outcome.DUPLICATE_CONCURRENT:
            await asyncio.gather(self._deliver(checkout, body), self._deliver(checkout, body))
            return
        await self._deliver(checkout, body)
        if outcome is Outcome.DUPLICATE:
            await self._deliver(checkout, body)

    def _callback_body(
        self, checkout: _Checkout, outcome: Outcome, result: tuple[int, str]
    ) -> dict[str, Any]:
        callback: dict[str, Any] = {
            "MerchantRequestID": checkout.merchant_id,
            "CheckoutRequestID": checkout.checkout_id,
            "ResultCode": result[0],
            "ResultDesc": result[1],
        }
        if result[0] == 0:
            amount = checkout.amount
            if outcome is Outcome.AMOUNT_MISMATCH:
                amount = amount - 1 if amount > 1 else amount + 1
            now = self.clock().astimezone(NAIROBI)
            callback["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": float(amount)},
                    {"Name": "MpesaReceiptNumber", "Value": self._new_receipt()},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": int(now.strftime("%Y%m%d%H%M%S"))},
                    {"Name": "PhoneNumber", "Value": int(checkout.phone)},
                ]
            }
        return {"Body": {"stkCallback": callback}}

    def _new_receipt(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        while True:
            receipt = "QJK" + "".join(secrets.choice(alphabet) for _ in range(7))
            if receipt not in self._receipts:
                self._receipts.add(receipt)
                return receipt

    async def _deliver(self, checkout: _Checkout, body: dict[str, Any]) -> None:
        # One attempt only: Daraja does not retry reliably.
        assert self._session is not None
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(checkout.callback_url, json=body) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        logger.info("sandbox callback %s -> %s", checkout.checkout_id, status or error)
        async with self._delivered_changed:
            self.callbacks_delivered.append(
                DeliveredCallback(checkout.checkout_id, checkout.callback_url, body, status, error)
            )
            self._delivered_changed.notify_all()

    async def _query(self, request: web.Request) -> web.Response:
        self._check_token(request)
        body = await self._json_body(request)
        self._check_credentials(body)
        self.stats.queries += 1
        checkout = self._checkouts.get(str(body.get("CheckoutRequestID", "")))
        if checkout is None:
            raise _Refusal(500, "500.001.1001", "The transaction does not Exist")
        if checkout.result is None:
            raise _Refusal(500, "500.001.1001", "The transaction is being processed")
        return web.json_response(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successfully",
                "MerchantRequestID": checkout.merchant_id,
                "CheckoutRequestID": checkout.checkout_id,
                "ResultCode": str(checkout.result[0]),
                "ResultDesc": checkout.result[1],
            }
        )


def _callback_url_ok(url: object) -> bool:
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    lowered = url.lower()
    if any(word in lowered for word in REJECTED_CALLBACK_WORDS):
        return False
    return not any(host in parts.hostname for host in _REJECTED_CALLBACK_HOSTS)


__all__ = [
    "BUY_GOODS",
    "PAYBILL",
    "SANDBOX_PASSKEY",
    "SANDBOX_SHORTCODE",
    "DarajaSandbox",
    "DeliveredCallback",
    "Fault",
    "Outcome",
    "ReceivedPush",
]
