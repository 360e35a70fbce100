"""Payroll: day rates, an event's pay sheet in versions, approval, and the payouts it queues.

    PayrollService(notifier, clock, approvals=settings.payroll_approvals)
      .rates                    Rates: book(actor), set_from_text(actor, "rigger | 3500")
      .open(actor, event_id)    build or bring up to date; a new sheet message for the actor
      .change(actor, event_id, who, "+1000 overtime")   one line; an approved version is
                                superseded by a new draft (unless paying it has begun)
      .submit / .approve(actor, sheet_id)               one winner when two press at once
      .show(actor, sheet_id, page)                      turn the sheet message's page
    claim_payout(clock, sheet_id=None)  the paying step's claim: QUEUED → SENT, once
    pay_runs(actor, query), my_pay(person, now, tz)     /payruns and /pay
    events_to_pay(actor)                                 bare /payroll: events to pick

The ledger rule for versions is in `services/ledger/wages.py`.
"""

from services.payroll._approval import originator_id
from services.payroll._changes import CHANGE_FORMS, Change, ChangeKind, parse_change
from services.payroll._errors import (
    BadChange,
    BadRate,
    NotOnSheet,
    NotReady,
    PayrollError,
    SecondApprover,
    SheetClosed,
    SheetNotFound,
)
from services.payroll._lines import problem_of
from services.payroll._lists import MyPay, RunRow, Slip, events_to_pay, my_pay, pay_runs
from services.payroll._rates import RATE_FORMS, RateBook, RateChange, Rates
from services.payroll._service import Changed, PayrollService, live_key
from services.payroll._view import SheetView
from services.payroll.payouts import claim_payout

__all__ = [
    "CHANGE_FORMS",
    "RATE_FORMS",
    "BadChange",
    "BadRate",
    "Change",
    "ChangeKind",
    "Changed",
    "MyPay",
    "NotOnSheet",
    "NotReady",
    "PayrollError",
    "PayrollService",
    "RateBook",
    "RateChange",
    "Rates",
    "RunRow",
    "SecondApprover",
    "SheetClosed",
    "SheetNotFound",
    "SheetView",
    "Slip",
    "claim_payout",
    "events_to_pay",
    "live_key",
    "my_pay",
    "originator_id",
    "parse_change",
    "pay_runs",
    "problem_of",
]
