"""Safaricom Daraja client: OAuth token, M-Pesa Express (STK push), push query, callbacks.

An STK push puts a PIN prompt on someone's phone, so it is never retried once
it may have reached Daraja; the only automatic retry is after Daraja refused
the access token (404.001.03), which it does before looking at the request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Protocol, TypeGuard
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from services.clock import Clock
from services.money import MAX_AMOUNT, MIN_AMOUNT
from services.phones import PhoneError, msisdn, normalise_phone

logger = logging.getLogger(__name__)

NAIROBI = ZoneInfo("Africa/Nairobi")


# --- errors -----------------------------------------------------------------


class DarajaError(Exception):
    """Anything that went wrong talking to Daraja."""


class DarajaConfigError(DarajaError, ValueError):
    """Our own settings or arguments cannot work (found before any request is sent)."""


class DarajaUnavailable(DarajaError):
    """Daraja could not be reached and nothing was sent: safe to resend."""


class DarajaUnknownOutcome(DarajaError):
    """The request may have reached Daraja but we have no answer.

    For a push: a prompt may be on the payer's phone. Mark the payment unknown
    and reconcile (callback or query); do not resend.
    """


class DarajaProtocolError(DarajaError):
    """Daraja answered with something that is not in its documented contract."""


class DarajaRejected(DarajaError):
    """Daraja refused the request (an error body); nothing happened on the payer's phone."""

    def __init__(
        self, *, http_status: int, error_code: str, error_message: str, request_id: str
    ) -> None:
        self.http_status = http_status
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id
        self.human_reason = rejection_reason(error_code, error_message)
        super().__init__(f"{error_code} {error_message} (requestId {request_id or '-'})")


class DarajaAuthError(DarajaRejected):
    """Daraja refused our credentials or our token even after a fresh one."""


class MalformedCallback(DarajaError, ValueError):
    """A callback body that is not a Daraja STK callback; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# --- configuration ----------------------------------------------------------


class TransactionType(StrEnum):
    PAYBILL = "CustomerPayBillOnline"
    BUY_GOODS = "CustomerBuyGoodsOnline"  # BusinessShortCode is the store number, PartyB the till


# Daraja refuses callback URLs containing these (400.002.02 Invalid CallBackURL).
CALLBACK_URL_REJECTED_WORDS = (
    "mpesa",
    "m-pesa",
    "safaricom",
    "sql",
    "query",
    "exec",
    "ngrok",
    "localtunnel",
    "loca.lt",
    "serveo",
    "trycloudflare",
)

ACCOUNT_REFERENCE_MAX = 12
TRANSACTION_DESC_MAX = 13


@dataclass(frozen=True)
class DarajaTimeouts:
    connect: float = 5.0
    read: float = 30.0
    write: float = 10.0
    pool: float = 5.0

    def for_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class DarajaConfig:
    base_url: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    shortcode: str
    passkey: str = field(repr=False)
    callback_url: str = field(repr=False)  # its last path segment is our callback secret
    transaction_type: TransactionType = TransactionType.PAYBILL
    party_b: str | None = None  # the till for BuyGoods; defaults to the shortcode
    timeouts: DarajaTimeouts = DarajaTimeouts()
    token_margin: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if not self.shortcode.isdigit():
            raise DarajaConfigError(f"shortcode {self.shortcode!r} must be digits")
        if not self.receiving_party.isdigit():
            raise DarajaConfigError(f"PartyB {self.party_b!r} must be digits")
        if self.transaction_type is TransactionType.PAYBILL and self.receiving_party != (
            self.shortcode
        ):
            raise DarajaConfigError(
                "for CustomerPayBillOnline PartyB is the paybill itself (the shortcode); "
                "a different PartyB makes every payment fail with result 2028"
            )
        problem = callback_url_problem(self.callback_url)
        if problem:
            raise DarajaConfigError(f"callback URL: {problem}")

    @property
    def receiving_party(self) -> str:
        return self.party_b or self.shortcode


def callback_url_problem(url: str) -> str | None:
    """Why Daraja would refuse this callback URL, or None."""
    if any(ch.isspace() for ch in url):
        return "contains a space"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    lowered = url.lower()
    for word in CALLBACK_URL_REJECTED_WORDS:
        if word in lowered:
            return f"contains {word!r}, which Daraja refuses (use a hex callback secret)"
    return None


# --- collaborators ----------------------------------------------------------


TokenFetch = Callable[[], Awaitable[tuple[str, datetime]]]


class TokenStore(Protocol):
    """The one Daraja access token shared by every running instance.

    Daraja invalidates the previous token whenever a new one is issued, so
    instances must not fetch concurrently. A database implementation: in
    `refresh`, lock the token row (SELECT … FOR UPDATE); if the row holds a
    token that is not `stale_token` and is still valid at `now`, someone else
    already replaced it: return theirs; otherwise call `fetch`, store its
    (token, usable_until) and return the token.
    """

    async def get_valid(self, now: datetime) -> str | None:
        """The stored token if it is usable at `now`."""
        ...

    async def refresh(self, fetch: TokenFetch, stale_token: str | None, now: datetime) -> str:
        """Replace `stale_token` (or a missing/expired token) with a fresh one, once."""
        ...


class InMemoryTokenStore:
    """For one process (tests, the demo); shared by every client built with it."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._usable_until: datetime | None = None
        self.fetches = 0

    async def get_valid(self, now: datetime) -> str | None:
        if self._token and self._usable_until and now < self._usable_until:
            return self._token
        return None

    async def refresh(self, fetch: TokenFetch, stale_token: str | None, now: datetime) -> str:
        async with self._lock:
            current = await self.get_valid(now)
            if current is not None and current != stale_token:
                return current
            token, usable_until = await fetch()
            self.fetches += 1
            self._token, self._usable_until = token, usable_until
            return token


@dataclass(frozen=True)
class DarajaExchange:
    """One request to Daraja and its answer, secrets redacted, for the audit log."""

    operation: str  # "oauth", "stk_push", "stk_query"
    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: object
    status: int | None
    response_body: object
    error: str | None
    started_at: datetime
    duration_ms: int

    def as_dict(self) -> dict[str, object]:
        return {
            "operation": self.operation,
            "method": self.method,
            "url": self.url,
            "request_headers": dict(self.request_headers),
            "request_body": self.request_body,
            "status": self.status,
            "response_body": self.response_body,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "duration_ms": self.duration_ms,
        }


class AuditSink(Protocol):
    """Keeps every exchange with Daraja.

    Must not raise: a lost audit row is better than a lost CheckoutRequestID
    (a DB implementation should log its own failure and return).
    """

    async def record(self, exchange: DarajaExchange) -> None: ...


class ListAuditSink:
    def __init__(self) -> None:
        self.exchanges: list[DarajaExchange] = []

    async def record(self, exchange: DarajaExchange) -> None:
        self.exchanges.append(exchange)


# --- results ----------------------------------------------------------------


@dataclass(frozen=True)
class StkPushAccepted:
    merchant_request_id: str
    checkout_request_id: str
    customer_message: str


class QueryStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"  # result_code says why (1032 is a cancellation)
    PENDING = "pending"  # "The transaction is being processed"
    NOT_FOUND = "not_found"  # "The transaction does not Exist"


@dataclass(frozen=True)
class StkQueryResult:
    checkout_request_id: str
    status: QueryStatus
    result_code: int | None
    result_desc: str
    reason: str  # for people


class ResultKind(StrEnum):
    PAID = "paid"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"  # the payer never answered or could not be reached
    FAILED = "failed"


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: int
    result_desc: str
    amount: int | None = None  # None when missing or not whole shillings (see problems)
    receipt: str | None = None
    transaction_date: datetime | None = None
    phone: str | None = None  # E.164; None when missing or masked
    problems: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.result_code == 0

    @property
    def kind(self) -> ResultKind:
        return result_kind(self.result_code)

    @property
    def reason(self) -> str:
        return result_reason(self.result_code, self.result_desc)


# --- reasons for people -----------------------------------------------------

_RESULT_REASONS: dict[int, str] = {
    0: "paid",
    1: "insufficient M-Pesa balance",
    2: "the amount is below M-Pesa's minimum",
    3: "the amount is above M-Pesa's maximum",
    4: "the payer's daily M-Pesa limit is exceeded",
    8: "the payment would take the till/paybill over its balance limit",
    17: "same amount to the same phone within 2 minutes; wait 2 minutes before resending",
    26: "M-Pesa is busy right now; try again in a minute",
    1001: "another M-Pesa prompt is already open on that phone; wait a minute and resend",
    1019: "the prompt expired before the payer answered",
    1025: "the prompt could not be sent (the message was too long)",
    1032: "cancelled by the payer",
    1037: "the phone could not be reached (off, out of coverage, or no answer)",
    2001: "wrong PIN",
    2028: "the paybill/till settings do not match the transaction type (check DARAJA_PARTY_B)",
    8006: "the payer's M-Pesa PIN is locked",
    9999: "M-Pesa could not send the prompt; try again",
}


def result_reason(code: int, description: str = "") -> str:
    """What a ResultCode means, in plain English for the manager."""
    known = _RESULT_REASONS.get(code)
    if known is not None:
        return known
    detail = f": {description}" if description else ""
    return f"M-Pesa reported result {code}{detail}"


def result_kind(code: int) -> ResultKind:
    if code == 0:
        return ResultKind.PAID
    if code == 1032:
        return ResultKind.CANCELLED
    if code in (1019, 1037):
        return ResultKind.TIMEOUT
    return ResultKind.FAILED


def rejection_reason(error_code: str, error_message: str) -> str:
    """What a Daraja errorCode means, in plain English for the manager."""
    message = error_message.lower()
    if error_code == "500.001.1001":
        if "lock subscriber" in message or "already in process" in message:
            return "a prompt is already waiting on that phone; wait a minute and resend"
        if "wrong credentials" in message:
            return "M-Pesa refused our credentials (shortcode, passkey or clock); tell the admin"
        if "merchant does not exist" in message:
            return "M-Pesa does not know our shortcode; tell the admin"
        return (
            "M-Pesa could not process the request (wrong credentials, or a prompt is "
            "already waiting on that phone — wait a minute and resend)"
        )
    if error_code == "400.002.02":
        return f"M-Pesa refused a field of the request: {error_message}"
    if error_code == "500.003.02":
        return "M-Pesa is busy right now; try again in a minute"
    if error_code == "500.003.03":
        return "M-Pesa's request quota for our account is used up; try again later"
    if error_code == "500.003.1001":
        return "M-Pesa had an internal error; try again in a minute"
    if error_code == "404.001.03":
        return "M-Pesa refused our access token; tell the admin"
    if error_code.startswith("400.008"):
        return "M-Pesa refused our API keys (consumer key/secret); tell the admin"
    if error_code in ("404.001.01", "405.001"):
        return "the M-Pesa address is wrong (check DARAJA_BASE_URL); tell the admin"
    return f"M-Pesa refused the request ({error_code}: {error_message})"


# --- payload helpers --------------------------------------------------------


def nairobi_timestamp(now: datetime) -> str:
    """Daraja's `Timestamp`: YYYYMMDDHHmmss in Nairobi time."""
    if now.tzinfo is None:
        raise DarajaConfigError("the clock must return an aware datetime")
    return now.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


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


def fit_reference(text: str) -> str:
    """A valid AccountReference (≤ 12): letters, digits, spaces, dashes; longer is refused."""
    return _fit(text, ACCOUNT_REFERENCE_MAX, "AccountReference")


def fit_description(text: str) -> str:
    """A valid TransactionDesc (≤ 13): letters, digits, spaces, dashes; longer is refused."""
    return _fit(text, TRANSACTION_DESC_MAX, "TransactionDesc")


_SECRET_KEYS = frozenset(
    {"password", "passkey", "access_token", "consumer_secret", "authorization"}
)
REDACTED = "[redacted]"


def _redact(value: object, secrets_: tuple[str, ...]) -> object:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if str(key).lower() in _SECRET_KEYS:
                out[str(key)] = REDACTED
            elif str(key) == "CallBackURL" and isinstance(item, str):
                out[str(key)] = _redact_callback_url(item)
            else:
                out[str(key)] = _redact(item, secrets_)
        return out
    if isinstance(value, list):
        return [_redact(item, secrets_) for item in value]
    if isinstance(value, str):
        for secret in secrets_:
            if secret:
                value = value.replace(secret, REDACTED)
        return value
    return value


def _redact_callback_url(url: str) -> str:
    head, _, _ = url.rstrip("/").rpartition("/")
    return f"{head}/{REDACTED}" if head else REDACTED


def _error_fields(body: object) -> tuple[str, str, str] | None:
    if isinstance(body, dict) and isinstance(body.get("errorCode"), str):
        return (
            body["errorCode"],
            str(body.get("errorMessage", "")),
            str(body.get("requestId", "")),
        )
    return None


# --- the client -------------------------------------------------------------

_TOKEN_REFUSED = "404.001.03"


@dataclass
class _Reply:
    status: int
    body: object  # parsed JSON, or the text when it is not JSON


class DarajaClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        config: DarajaConfig,
        token_store: TokenStore,
        audit: AuditSink,
        clock: Clock,
    ) -> None:
        self._http = http
        self._config = config
        self._tokens = token_store
        self._audit = audit
        self._clock = clock
        self._base = config.base_url.rstrip("/")
        self._recent_tokens: list[str] = []  # only for redaction of audit records

    # public API

    async def stk_push(
        self, phone_e164: str, amount: int, account_reference: str, transaction_desc: str
    ) -> StkPushAccepted:
        """Put a PIN prompt on the payer's phone.

        Raises DarajaRejected (nothing happened), DarajaUnavailable (nothing
        sent) or DarajaUnknownOutcome (a prompt may be showing: do not resend).
        """
        phone = self._checked_phone(phone_e164)
        if isinstance(amount, bool) or not MIN_AMOUNT <= amount <= MAX_AMOUNT:
            raise DarajaConfigError(f"amount {amount!r} is not 1–{MAX_AMOUNT:,} whole shillings")
        reference = fit_reference(account_reference)
        description = fit_description(transaction_desc)
        timestamp = nairobi_timestamp(self._clock.now())
        body: dict[str, object] = {
            "BusinessShortCode": int(self._config.shortcode),
            "Password": stk_password(self._config.shortcode, self._config.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": str(self._config.transaction_type),
            "Amount": amount,
            "PartyA": phone,
            "PartyB": int(self._config.receiving_party),
            "PhoneNumber": phone,
            "CallBackURL": self._config.callback_url,
            "AccountReference": reference,
            "TransactionDesc": description,
        }
        reply = await self._post_with_token("stk_push", "/mpesa/stkpush/v1/processrequest", body)
        if reply.status == 200 and isinstance(reply.body, dict):
            answer = reply.body
            checkout = answer.get("CheckoutRequestID")
            merchant = str(answer.get("MerchantRequestID", ""))
            if str(answer.get("ResponseCode")) == "0" and _usable_id(checkout) and checkout:
                if not _usable_id(merchant):
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
        error = _error_fields(reply.body)
        # A Daraja error body is a refusal, except "internal error", which does not
        # say whether the prompt went out.
        if error is not None and reply.status >= 400 and error[0] != "500.003.1001":
            raise self._rejected(reply.status, error)
        raise DarajaUnknownOutcome(
            f"STK push got an unexpected answer (HTTP {reply.status}); the prompt may "
            "have been sent: check with the STK query before resending"
        )

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        """Ask Daraja what became of a push. Safe to repeat."""
        if not checkout_request_id:
            raise DarajaConfigError("CheckoutRequestID is empty")
        timestamp = nairobi_timestamp(self._clock.now())
        body: dict[str, object] = {
            "BusinessShortCode": int(self._config.shortcode),
            "Password": stk_password(self._config.shortcode, self._config.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        try:
            reply = await self._post_with_token("stk_query", "/mpesa/stkpushquery/v1/query", body)
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
        error = _error_fields(answer)
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
            raise self._rejected(reply.status, error)
        raise DarajaProtocolError(f"STK query got an unexpected answer (HTTP {reply.status})")

    # tokens

    async def _token(self) -> str:
        token = await self._tokens.get_valid(self._clock.now())
        if token is None:
            token = await self._tokens.refresh(self._fetch_token, None, self._clock.now())
        self._remember(token)
        return token

    async def _fresh_token(self, stale: str) -> str:
        token = await self._tokens.refresh(self._fetch_token, stale, self._clock.now())
        self._remember(token)
        return token

    def _remember(self, token: str) -> None:
        if token not in self._recent_tokens:
            self._recent_tokens = [*self._recent_tokens[-3:], token]

    async def _fetch_token(self) -> tuple[str, datetime]:
        credentials = f"{self._config.consumer_key}:{self._config.consumer_secret}"
        basic = base64.b64encode(credentials.encode()).decode("ascii")
        issued_at = self._clock.now()
        try:
            reply = await self._exchange(
                "oauth",
                "GET",
                "/oauth/v1/generate?grant_type=client_credentials",
                headers={"Authorization": f"Basic {basic}"},
                body=None,
            )
        except DarajaUnknownOutcome as exc:
            raise DarajaUnavailable(f"could not get a Daraja token: {exc}") from exc
        answer = reply.body
        error = _error_fields(answer)
        if error is not None or reply.status != 200:
            code, message, request_id = error or (f"HTTP {reply.status}", "no error body", "")
            raise DarajaAuthError(
                http_status=reply.status,
                error_code=code,
                error_message=message,
                request_id=request_id,
            )
        if not isinstance(answer, dict):
            raise DarajaProtocolError("the token reply is not a JSON object")
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token:
            raise DarajaProtocolError("the token reply has no access_token")
        # It goes into an Authorization header: anything else would fail there instead.
        if not re.fullmatch(r"[\x21-\x7e]{1,2048}", token):
            raise DarajaProtocolError("the token reply's access_token is not a header-safe token")
        try:
            lifetime = float(str(expires_in)) if not isinstance(expires_in, bool) else None
        except ValueError:
            lifetime = None
        if lifetime is None or not 0 < lifetime < 10**7:
            raise DarajaProtocolError(f"the token reply has expires_in {expires_in!r}")
        margin = min(self._config.token_margin.total_seconds(), lifetime / 2)
        self._remember(token)
        logger.info("Daraja token issued, expires in %ds", int(lifetime))
        return token, issued_at + timedelta(seconds=lifetime - margin)

    # HTTP

    async def _post_with_token(self, operation: str, path: str, body: dict[str, object]) -> _Reply:
        token = await self._token()
        reply = await self._post(operation, path, body, token)
        error = _error_fields(reply.body)
        if error is None or error[0] != _TOKEN_REFUSED:
            return reply
        # Refused before processing, so resending is safe; once only, never a loop.
        logger.warning("Daraja refused the token on %s; fetching a new one", operation)
        token = await self._fresh_token(stale=token)
        reply = await self._post(operation, path, body, token)
        error = _error_fields(reply.body)
        if error is not None and error[0] == _TOKEN_REFUSED:
            raise DarajaAuthError(
                http_status=reply.status,
                error_code=error[0],
                error_message=error[1],
                request_id=error[2],
            )
        return reply

    async def _post(self, operation: str, path: str, body: dict[str, object], token: str) -> _Reply:
        return await self._exchange(
            operation,
            "POST",
            path,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=body,
        )

    async def _exchange(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        body: dict[str, object] | None,
    ) -> _Reply:
        url = self._base + path
        started_at = self._clock.now()
        started = time.monotonic()
        status: int | None = None
        parsed: object = None
        failure: DarajaError | None = None
        cause: httpx.HTTPError | None = None
        try:
            response = await self._http.request(
                method,
                url,
                headers=headers,
                content=None if body is None else json.dumps(body).encode(),
                timeout=self._config.timeouts.for_httpx(),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            failure, cause = DarajaUnavailable(f"Daraja unreachable ({_describe(exc)})"), exc
        except httpx.HTTPError as exc:
            failure, cause = (
                DarajaUnknownOutcome(f"no answer from Daraja ({_describe(exc)})"),
                exc,
            )
        else:
            status = response.status_code
            try:
                parsed = response.json()
            except ValueError:
                parsed = response.text[:2000]
        duration_ms = round((time.monotonic() - started) * 1000)
        secrets_ = (
            self._config.passkey,
            self._config.consumer_secret,
            *self._recent_tokens,
            *_header_secrets(headers),
        )
        await self._audit.record(
            DarajaExchange(
                operation=operation,
                method=method,
                url=url,
                request_headers={
                    k: (REDACTED if k.lower() == "authorization" else v) for k, v in headers.items()
                },
                request_body=_redact(body, secrets_),
                status=status,
                response_body=_redact(parsed, secrets_),
                error=None if failure is None else str(failure),
                started_at=started_at,
                duration_ms=duration_ms,
            )
        )
        if failure is not None:
            logger.warning("Daraja %s failed after %dms: %s", operation, duration_ms, failure)
            raise failure from cause
        assert status is not None
        if status >= 400:
            logger.warning("Daraja %s answered HTTP %d in %dms", operation, status, duration_ms)
        return _Reply(status, parsed)

    def _rejected(self, status: int, error: tuple[str, str, str]) -> DarajaRejected:
        return DarajaRejected(
            http_status=status, error_code=error[0], error_message=error[1], request_id=error[2]
        )

    @staticmethod
    def _checked_phone(phone_e164: str) -> str:
        try:
            return msisdn(phone_e164)
        except PhoneError as exc:
            raise DarajaConfigError(str(exc)) from exc


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _header_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    value = headers.get("Authorization", "")
    _, _, credential = value.partition(" ")
    return (credential,) if credential else ()


# --- callbacks --------------------------------------------------------------

_DATE = re.compile(r"[0-9]{14}")
RECEIPT = re.compile(r"[A-Z0-9]{10}")  # an M-Pesa receipt number, e.g. QJK3AB12CD
ID_MAX = 64  # CheckoutRequestID, MerchantRequestID: the width of their columns
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _usable_id(value: object) -> TypeGuard[str]:
    """An id we can store and look up: a string of at most ID_MAX printable characters."""
    return isinstance(value, str) and len(value) <= ID_MAX and not _CONTROL.search(value)


def _request_id(stk: dict[str, Any], name: str) -> str:
    """An id Daraja gave us, as we can store and look it up: a short printable string."""
    value = stk.get(name)
    if not isinstance(value, str):
        raise MalformedCallback(f"{name} is missing or not a string")
    if len(value) > ID_MAX:
        raise MalformedCallback(f"{name} is longer than {ID_MAX} characters")
    if _CONTROL.search(value):
        raise MalformedCallback(f"{name} contains control characters")
    return value


def parse_callback(body: bytes | object) -> StkCallback:
    """Turn a callback body (raw bytes or decoded JSON) into an StkCallback.

    Raises MalformedCallback for anything that is not an STK callback. Odd
    metadata (a non-whole amount, a masked phone) is parsed as None and
    explained in `problems` rather than refused: the raw body is kept and
    the payment is flagged instead of credited.
    """
    if isinstance(body, bytes | bytearray | str):
        try:
            data: object = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise MalformedCallback(f"body is not JSON ({type(exc).__name__})") from exc
    else:
        data = body
    stk = _dig(data, "Body", "stkCallback")
    checkout = _request_id(stk, "CheckoutRequestID")
    if not checkout:
        raise MalformedCallback("CheckoutRequestID is missing or not a string")
    merchant = _request_id(stk, "MerchantRequestID")
    code = _result_code(stk.get("ResultCode"))
    desc = stk.get("ResultDesc", "")
    if not isinstance(desc, str):
        raise MalformedCallback("ResultDesc is not a string")

    items = _items(stk.get("CallbackMetadata"))
    problems: list[str] = []
    amount = _amount(items, problems)
    receipt = items.get("MpesaReceiptNumber")
    if receipt is not None and not (isinstance(receipt, str) and RECEIPT.fullmatch(receipt)):
        # Kept out of every column, subject and message; the payment is flagged instead.
        problems.append(f"MpesaReceiptNumber {str(receipt)[:40]!r} is not a receipt number")
        receipt = None
    when = _transaction_date(items, problems)
    phone = _phone(items, problems)
    if code == 0:
        if amount is None and "Amount" not in items:
            problems.append("a success without an Amount")
        if receipt is None and "MpesaReceiptNumber" not in items:
            problems.append("a success without an MpesaReceiptNumber")
    return StkCallback(
        merchant_request_id=merchant,
        checkout_request_id=checkout,
        result_code=code,
        result_desc=desc,
        amount=amount,
        receipt=receipt,
        transaction_date=when,
        phone=phone,
        problems=tuple(problems),
    )


def _dig(data: object, *keys: str) -> dict[str, Any]:
    path = ""
    for key in keys:
        path = f"{path}.{key}" if path else key
        if not isinstance(data, dict) or key not in data:
            raise MalformedCallback(f"{path} is missing")
        data = data[key]
    if not isinstance(data, dict):
        raise MalformedCallback(f"{path} is not an object")
    return data


def _result_code(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) < 10:
        return int(raw.strip())
    raise MalformedCallback(f"ResultCode {raw!r} is not a number")


def _items(metadata: object) -> dict[str, object]:
    """CallbackMetadata items by Name; an item without Value maps to None."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MalformedCallback("CallbackMetadata is not an object")
    raw_items = metadata.get("Item", [])
    if not isinstance(raw_items, list):
        raise MalformedCallback("CallbackMetadata.Item is not a list")
    items: dict[str, object] = {}
    for entry in raw_items:
        if not isinstance(entry, dict) or not isinstance(entry.get("Name"), str):
            raise MalformedCallback("a CallbackMetadata item has no Name")
        items[entry["Name"]] = entry.get("Value")
    return items


def _amount(items: dict[str, object], problems: list[str]) -> int | None:
    if "Amount" not in items:
        return None
    raw = items["Amount"]
    value: Decimal | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int | str):
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            value = None
    elif isinstance(raw, float):
        value = Decimal(raw) if raw == raw and abs(raw) != float("inf") else None
    if value is None or not value.is_finite():
        problems.append(f"Amount {raw!r} is not a number")
        return None
    if value != value.to_integral_value():
        problems.append(f"Amount {raw!r} is not whole shillings")
        return None
    if not MIN_AMOUNT <= value <= MAX_AMOUNT:
        problems.append(f"Amount {raw!r} is outside 1–{MAX_AMOUNT:,}")
        return None
    return int(value)


def _transaction_date(items: dict[str, object], problems: list[str]) -> datetime | None:
    raw = items.get("TransactionDate")
    if raw is None:
        return None
    text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if not _DATE.fullmatch(text):
        problems.append(f"TransactionDate {raw!r} is not YYYYMMDDHHmmss")
        return None
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        problems.append(f"TransactionDate {raw!r} is not a date")
        return None
    return local.replace(tzinfo=NAIROBI)


def _phone(items: dict[str, object], problems: list[str]) -> str | None:
    raw = items.get("PhoneNumber")
    if raw is None:
        return None
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        try:
            return normalise_phone(str(raw))
        except PhoneError:
            pass
    problems.append(f"PhoneNumber {raw!r} is not a usable phone number")
    return None


def new_callback_secret() -> str:
    """A callback path secret Daraja will not refuse (hex cannot spell its banned words)."""
    return secrets.token_hex(24)
