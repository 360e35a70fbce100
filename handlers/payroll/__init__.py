"""Payroll in the chat: /rates, /payroll and its buttons, /payruns and /pay."""

from __future__ import annotations

from bot.context import CallsheetApplication
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS, Command
from handlers.payroll import lists, rates, sheet

__all__ = ["register"]

MANAGER_COMMANDS.extend(
    [
        Command("rates", "Day rates per role and person", "/rates sound engineer | 3500"),
        Command("payroll", "An event's pay sheet: build, change, submit", "/payroll 12"),
        Command("payruns", "Pay sheets by event and status"),
    ]
)
CREW_COMMANDS.append(Command("pay", "My pay and payslips"))


def register(application: CallsheetApplication) -> None:
    rates.register(application)
    sheet.register(application)
    lists.register(application)
