"""Payroll in the chat: /rates, /payroll and its buttons, /payruns and /pay."""

from __future__ import annotations

from bot.context import CallsheetApplication
from handlers.payroll import lists, rates, sheet

__all__ = ["register"]


def register(application: CallsheetApplication) -> None:
    rates.register(application)
    sheet.register(application)
    lists.register(application)
