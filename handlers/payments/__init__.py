"""Payments in the chat: /request, the books (/charge, /uncharge, /resolve, /record,
/unrecord), refunds (/refund, /refunds, and their buttons), the month's export (/export), the lists (/payments, /balances, /balance),
receipts and invoices (/receipt, /invoice), client deposits (/deposit, /deposits), a payment's Daraja exchanges (/daraja), an
event's payment request, and the pay: buttons.

One registration per module; `handlers/__init__.py` calls these in this order:
`register` (the commands), `register_batch` (the event's request), `register_buttons`
(last: the pay: presses no conversation took).
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from handlers.payments import (
    batch,
    books,
    buttons,
    deposits,
    documents,
    exchanges,
    export,
    lists,
    refunds,
    request,
)

__all__ = ["register", "register_batch", "register_buttons"]


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    request.register(application)
    books.register(application)
    refunds.register(application)
    deposits.register(application)
    export.register(application)
    lists.register(application)
    exchanges.register(application)
    documents.register(application)


def register_batch(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    batch.register(application)


def register_buttons(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    buttons.register(application)
