"""M-Pesa payments: asking people for money, and learning what became of each request.

What happens when Safaricom posts a callback: the web view (bot/web.py) hands the body to
`intake.py`, which stores it, claims it and finds its payment; `settlement.py` applies the
outcome (payment row, ledger through `LedgerService.credit_many`, audit, messages).

    requests.py        PaymentService: asking, Resend, Check status
    intake.py          the daraja_callback table's one owner: storing, claiming, matching
    settlement.py      applying an outcome to a payment, once
    reconciliation.py  stuck payments, the STK query, and the Reconciler loop
    messages.py        what the payer and the managers are told
    errors.py          what a request can be refused for
"""

from services.payments.errors import (
    InvalidPurpose,
    NothingToCheck,
    PaymentError,
    PaymentNotFound,
    RepeatRequest,
    TooSoon,
    UnknownPerson,
)
from services.payments.intake import CallbackService, Intake
from services.payments.messages import PaymentMessages
from services.payments.reconciliation import CHECK_EVERY, Reconciler, Reconciliation
from services.payments.requests import (
    DUPLICATE_WINDOW,
    PURPOSE_MAX,
    PaymentDraft,
    PaymentService,
    clean_purpose,
)
from services.payments.settlement import Settlement, Settler, SettlingBatch
from services.payments.states import NEEDS_A_MANAGER, OPEN, SETTLED_UNPAID

__all__ = [
    "CHECK_EVERY",
    "DUPLICATE_WINDOW",
    "NEEDS_A_MANAGER",
    "OPEN",
    "PURPOSE_MAX",
    "SETTLED_UNPAID",
    "CallbackService",
    "Intake",
    "InvalidPurpose",
    "NothingToCheck",
    "PaymentDraft",
    "PaymentError",
    "PaymentMessages",
    "PaymentNotFound",
    "PaymentService",
    "Reconciler",
    "Reconciliation",
    "RepeatRequest",
    "Settlement",
    "Settler",
    "SettlingBatch",
    "TooSoon",
    "UnknownPerson",
    "clean_purpose",
]
