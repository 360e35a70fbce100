"""What people owe: charges, payments received, balances, and the audit that checks them.

`service.py` is the only writer of ledger entries and balances (settling payments credits
through `LedgerService.credit_many`), with `wages.py` for an approved pay sheet's wages and
deductions (`post_wages`); `checks.py` is the audit, which only reads.
"""

from services.ledger.checks import UNMATCHED_GRACE, Mismatch
from services.ledger.service import (
    BALANCES_SHOWN,
    LIST_LIMIT,
    REASON_MAX,
    CannotUndo,
    Credit,
    EntryNotFound,
    FlaggedPaymentNotFound,
    InvalidReason,
    LedgerError,
    LedgerService,
    Owing,
    Reversal,
    Statement,
    clean_reason,
)
from services.ledger.wages import Wage, post_wages

__all__ = [
    "BALANCES_SHOWN",
    "LIST_LIMIT",
    "REASON_MAX",
    "UNMATCHED_GRACE",
    "CannotUndo",
    "Credit",
    "EntryNotFound",
    "FlaggedPaymentNotFound",
    "InvalidReason",
    "LedgerError",
    "LedgerService",
    "Mismatch",
    "Owing",
    "Reversal",
    "Statement",
    "Wage",
    "clean_reason",
    "post_wages",
]
