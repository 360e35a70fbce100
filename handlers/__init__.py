"""Telegram update handlers: parse the update, call one service, render the reply."""

from bot.context import CallsheetApplication
from handlers import (
    assignments,
    availability,
    broadcasts,
    cancel,
    common,
    emails,
    eventdocs,
    events,
    insight,
    payments,
    payroll,
    people,
    statements,
    webhooks,
)


def register_all(application: CallsheetApplication) -> None:
    common.register(application)
    # Features register here, in group 0, before the fallbacks.
    people.register(application)
    emails.register(application)
    payments.register(application)
    payments.register_batch(application)
    payments.register_buttons(application)  # the pay: presses no conversation took
    assignments.register(application)
    payroll.register(application)
    eventdocs.register(application)  # before statements: it takes /attach documents
    statements.register(application)
    insight.register(application)
    webhooks.register(application)
    availability.register(application)
    broadcasts.register(application)

    events.register(application)
    assignments.register_reason_catcher(application)  # plain text no feature took
    cancel.register(application)  # /cancel that no open conversation took
    common.register_fallbacks(application)
