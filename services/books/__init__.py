"""The books against the outside world: M-Pesa's statement reconciled with our ledger.

`statement.py` reads the org-portal export (CSV or XLSX); `reconcile.py` matches it with
completed payments and payouts and keeps the result.
"""

from services.books.reconcile import Booked, Reconciler, Report
from services.books.statement import NotAStatement, Statement, StatementRow, parse

__all__ = [
    "Booked",
    "NotAStatement",
    "Reconciler",
    "Report",
    "Statement",
    "StatementRow",
    "parse",
]
