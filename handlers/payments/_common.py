"""What the payment handlers share: this area's commands, the payment service (or why there
is none), a refused press answered as it always was, and the user's kept data."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot.context import CallsheetContext
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS, Command
from services.payments import PaymentError, PaymentService

# The menus list these in this order (/help too).
MANAGER_COMMANDS += [
    Command("request", "Ask someone to pay by M-Pesa", "/request Jane | 1500 | Cable damage"),
    Command("charge", "Add an amount someone owes", "/charge Jane | 1500 | Lost XLR cable"),
    Command("uncharge", "Undo a charge", "/uncharge 12 | Cable was found"),
    Command("resolve", "Say what was done about a flagged payment", "/resolve 7 | Refunded"),
    Command(
        "record",
        "Record money received by hand: cash, bank, airtel, cheque, mpesa",
        "/record Jane | 5000 | bank | FT26330ABC12",
    ),
    Command("unrecord", "Undo a recorded payment", "/unrecord 4 | Typed the wrong amount"),
    Command(
        "refund",
        "Give money back: the whole payment, or part of it",
        "/refund 12 | 500 | Charged twice",
    ),
    Command("refunds", "The latest refunds and where they are"),
    Command("export", "The month's ledger as CSV and XLSX for the accountant", "/export 2026-11"),
    Command("payments", "Payment history: /payments [person or status]"),
    Command("daraja", "What Daraja said about a payment, secrets hidden", "/daraja 12"),
    Command("balances", "Outstanding balances"),
]
CREW_COMMANDS += [Command("balance", "What I owe and my payments")]

PAYMENTS_OFF = (
    "M-Pesa payments are not set up on this bot yet. An admin must add the Daraja settings."
)

PressHandler = Callable[[Update, CallsheetContext], Coroutine[Any, Any, None]]


def payments_of(context: CallsheetContext) -> PaymentService:
    service = context.services.payments
    if service is None:
        raise PaymentError(PAYMENTS_OFF)
    return service


def user_data(context: CallsheetContext) -> dict[Any, Any]:
    assert context.user_data is not None  # every update here comes from a user
    return context.user_data


def example(command: str) -> str:
    return next((c.example for c in MANAGER_COMMANDS if c.name == command), f"/{command}")
