"""One Daraja account's settings, checked before any request is sent."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from services.daraja._errors import DarajaConfigError

NAIROBI = ZoneInfo("Africa/Nairobi")


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


def new_callback_secret() -> str:
    """A callback path secret Daraja will not refuse (hex cannot spell its banned words)."""
    return secrets.token_hex(24)
