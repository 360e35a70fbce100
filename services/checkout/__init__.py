"""The client checkout (SPEC §10): `/deposit` makes a deposit, split into monthly
instalments, and a link `PUBLIC_BASE_URL/pay/<token>` for the client. Pay sends an M-Pesa
prompt through the payments package (the same path as /request); each payment is linked to
the instalment it pays. A deposit sends one prompt at a time: every push claims the next
value of the deposit's counter by a conditional update, so two presses, or two instances,
never send two. On each later instalment's date the client gets a prompt and the manager a
word (the instalment's `pushed_at` is the claim); an instalment unpaid `CHECKOUT_MISSED_DAYS`
after its date alerts the manager once (`missed_at`). `/invoice` opens a checkout for the
invoice's total (`_invoices.py`): its parts all due at once, and the invoice PAID once they
are.
"""

from services.checkout._errors import (
    BadDeposit,
    CheckoutError,
    CheckoutOff,
    LinkNotValid,
    NothingToPay,
    TooMany,
)
from services.checkout._limits import SlidingWindow
from services.checkout._links import USAGE as PAYLINK_USAGE
from services.checkout._links import NewLink
from services.checkout._plan import (
    MAX_INSTALMENTS,
    USAGE,
    DepositAsk,
    clean_client,
    parse_count,
    parse_deposit,
    parse_event,
    parse_total,
)
from services.checkout._service import PUSHES_PER_HOUR, CheckoutService, NewDeposit, token_hash
from services.checkout._view import STILL_WAITING_AFTER, CheckoutView, Line, State
from services.checkout._worker import CheckoutWorker

__all__ = [
    "MAX_INSTALMENTS",
    "PAYLINK_USAGE",
    "PUSHES_PER_HOUR",
    "STILL_WAITING_AFTER",
    "USAGE",
    "BadDeposit",
    "CheckoutError",
    "CheckoutOff",
    "CheckoutService",
    "CheckoutView",
    "CheckoutWorker",
    "DepositAsk",
    "Line",
    "LinkNotValid",
    "NewDeposit",
    "NewLink",
    "NothingToPay",
    "SlidingWindow",
    "State",
    "TooMany",
    "clean_client",
    "parse_count",
    "parse_deposit",
    "parse_event",
    "parse_total",
    "token_hash",
]
