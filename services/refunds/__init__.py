"""Refunds (/refund): a whole payment given back by Daraja's Reversal API, part of one by B2C,
approved as pay sheets are (PAYROLL_APPROVALS), confirmed by Transaction Status when M-Pesa's
answer is lost or says "already reversed", never sent twice, never more than was paid.

    _parse.py      reading /refund's line
    _service.py    asking, approving, rejecting, listing (RefundsCore)
    sending.py     the sender's turn and the sweep (Refunds = RefundsCore + sending)
    results.py     results about refunds, applied with the other operator results
    _outcomes.py   refunded (ledger, receipt), failed, unknown
    _messages.py   the cards, the approval emails, the payer's notice, every manager's outcome
"""

from services.refunds._errors import (
    BadRefund,
    NotRefundable,
    RefundClosed,
    RefundError,
    RefundNotFound,
    RefundsOff,
    SecondManager,
)
from services.refunds._parse import (
    USAGE,
    RefundAsk,
    clean_refund_reason,
    parse_payment,
    parse_refund,
    parse_refund_amount,
)
from services.refunds._service import HOLDING, held, paid_of
from services.refunds.sending import RefundSending as Refunds

__all__ = [
    "HOLDING",
    "USAGE",
    "BadRefund",
    "NotRefundable",
    "RefundAsk",
    "RefundClosed",
    "RefundError",
    "RefundNotFound",
    "Refunds",
    "RefundsOff",
    "SecondManager",
    "clean_refund_reason",
    "held",
    "paid_of",
    "parse_payment",
    "parse_refund",
    "parse_refund_amount",
]
