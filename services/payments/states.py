"""Which payment statuses may still change, and which a manager must look at."""

from __future__ import annotations

from models import PaymentStatus
from services.daraja import ResultKind

# Statuses a callback or a query may still change.
OPEN = (PaymentStatus.INITIATED, PaymentStatus.PENDING, PaymentStatus.UNKNOWN)
SETTLED_UNPAID = (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.TIMEOUT)
NEEDS_A_MANAGER = (*SETTLED_UNPAID, PaymentStatus.UNKNOWN)


def status_for(kind: ResultKind) -> PaymentStatus:
    return {
        ResultKind.PAID: PaymentStatus.COMPLETED,
        ResultKind.CANCELLED: PaymentStatus.CANCELLED,
        ResultKind.TIMEOUT: PaymentStatus.TIMEOUT,
        ResultKind.FAILED: PaymentStatus.FAILED,
    }[kind]
