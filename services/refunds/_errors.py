"""Refunds' refusals, each on one branch of the tree in `services/errors.py`."""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotAllowed, NotFound


class RefundError(CallsheetError):
    pass


class BadRefund(RefundError, InvalidInput):
    """A /refund line that cannot be read: no payment number, a bad amount, no reason."""


class RefundNotFound(RefundError, NotFound):
    pass


class NotRefundable(RefundError, Conflict):
    """The payment is not paid, or what is asked would give back more than it paid."""


class RefundClosed(RefundError, Conflict):
    """Approve or reject pressed on a refund already decided, sent or done."""


class SecondManager(RefundError, NotAllowed):
    """PAYROLL_APPROVALS=2 and the approver asked for the refund."""


class RefundsOff(RefundError, Conflict):
    """M-Pesa refunds are not set up (no API operator)."""
