"""Every exchange with Daraja is kept, secrets redacted: in a list (tests) or the database."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from models import DarajaExchange as ExchangeRow
from models.errors import DATABASE_UNAVAILABLE

log = logging.getLogger(__name__)

# The payment a Daraja call is made for, so its audit rows point at it.
_current_payment: ContextVar[int | None] = ContextVar("daraja_payment", default=None)


@contextlib.contextmanager
def exchanges_for(payment_id: int) -> Iterator[None]:
    reset = _current_payment.set(payment_id)
    try:
        yield
    finally:
        _current_payment.reset(reset)


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


class DbAuditSink:
    """Writes every exchange (already redacted by the client) as a DarajaExchange row."""

    async def record(self, exchange: DarajaExchange) -> None:
        try:
            await ExchangeRow.create(
                operation=exchange.operation,
                started_at=exchange.started_at,
                duration_ms=exchange.duration_ms,
                method=exchange.method,
                url=exchange.url[:300],
                request_body=exchange.request_body,
                status_code=exchange.status,
                response_body=None
                if exchange.response_body is None
                else json.dumps(exchange.response_body, ensure_ascii=False, default=str),
                error=exchange.error[:500] if exchange.error else None,
                payment_id=_current_payment.get(),
            )
        except DATABASE_UNAVAILABLE:
            # A lost audit row must not lose the CheckoutRequestID the caller is waiting for.
            log.exception("could not store the Daraja %s exchange", exchange.operation)
