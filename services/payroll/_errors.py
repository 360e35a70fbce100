"""Payroll's refusals, each on one branch of the tree in `services/errors.py`."""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotAllowed, NotFound


class PayrollError(CallsheetError):
    pass


class BadRate(PayrollError, InvalidInput):
    pass


class BadChange(PayrollError, InvalidInput):
    """A line change that cannot be read or would break a rule (negative pay, too much
    deducted)."""


class SheetNotFound(PayrollError, NotFound):
    pass


class NotOnSheet(PayrollError, NotFound):
    pass


class SheetClosed(PayrollError, Conflict):
    """The version cannot change or move on now (submitted already, being paid, …)."""


class NotReady(PayrollError, Conflict):
    """Submit or approve refused: missing rates, nothing to pay, a balance that moved."""


class SecondApprover(PayrollError, NotAllowed):
    """PAYROLL_APPROVALS=2 and the approver submitted it."""
