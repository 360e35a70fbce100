"""What people owe: charges, payments received, balances, and the audit that checks them.

`service.py` is the only writer of ledger entries and balances (settling payments credits
through `LedgerService.credit_many`), with `wages.py` for an approved pay sheet's wages and
deductions (`post_wages`) and `recorded.py` for money received outside M-Pesa (/record,
/unrecord); `checks.py` is the audit and `export.py` the month's books for the accountant,
which only read.
"""

from services.ledger.checks import UNMATCHED_GRACE, Mismatch
from services.ledger.export import COLUMNS, Exports, InvalidMonth, Month, MonthExport, parse_month
from services.ledger.recorded import (
    RECORD_MAX,
    DuplicateReference,
    InvalidMethod,
    InvalidReference,
    Recorded,
    RecordedPayments,
    RecordNotFound,
    clean_reference,
    clean_undo_reason,
    parse_method,
    parse_record_amount,
)
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
    "COLUMNS",
    "LIST_LIMIT",
    "REASON_MAX",
    "RECORD_MAX",
    "UNMATCHED_GRACE",
    "CannotUndo",
    "Credit",
    "DuplicateReference",
    "EntryNotFound",
    "Exports",
    "FlaggedPaymentNotFound",
    "InvalidMethod",
    "InvalidMonth",
    "InvalidReason",
    "InvalidReference",
    "LedgerError",
    "LedgerService",
    "Mismatch",
    "Month",
    "MonthExport",
    "Owing",
    "RecordNotFound",
    "Recorded",
    "RecordedPayments",
    "Reversal",
    "Statement",
    "Wage",
    "clean_reason",
    "clean_reference",
    "clean_undo_reason",
    "parse_method",
    "parse_month",
    "parse_record_amount",
    "post_wages",
]
