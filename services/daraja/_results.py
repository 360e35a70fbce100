"""What Daraja answered, as types: an accepted push, a query's answer, a callback."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeGuard

from services.daraja._reasons import result_reason

ID_MAX = 64  # CheckoutRequestID, MerchantRequestID: the width of their columns
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def usable_id(value: object) -> TypeGuard[str]:
    """An id we can store and look up: a string of at most ID_MAX printable characters."""
    return isinstance(value, str) and len(value) <= ID_MAX and not CONTROL.search(value)


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


def result_kind(code: int) -> ResultKind:
    if code == 0:
        return ResultKind.PAID
    if code == 1032:
        return ResultKind.CANCELLED
    if code in (1019, 1037):
        return ResultKind.TIMEOUT
    return ResultKind.FAILED


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
