"""/webhooks: managers add, list, test and remove the endpoints that get signed posts of what
happens, and read each one's delivery log. The service checks everything; this parses the
first word and renders the reply."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.shared import args_text, chat_id, managers_only, reply
from services.webhooks import InvalidWebhook, valid_events

MANAGER_COMMANDS.append(
    Command(
        "webhooks",
        "Webhooks: signed posts to your own systems when things happen",
        "/webhooks add https://example.com/hook | payment.completed, event.created",
    )
)

USAGE = (
    "I did not understand that. Use:\n"
    "/webhooks — list them\n"
    "/webhooks add https://example.com/hook | payment.completed, event.created (or *)\n"
    "/webhooks log 3 — the last attempts\n"
    "/webhooks test 3 — send a test event\n"
    "/webhooks remove 3"
)


@managers_only("manage webhooks")
async def webhooks(update: Update, context: CallsheetContext) -> None:
    service = context.services.webhooks
    word, _, rest = args_text(update).partition(" ")
    word = word.lower()
    if not word:
        endpoints = await service.endpoints(context.person)
        await reply(update, context, "webhooks/list", endpoints=endpoints, events=valid_events())
    elif word == "add":
        added = await service.add(context.person, rest, chat_id=chat_id(update))
        await reply(update, context, "webhooks/added", endpoint=added.endpoint, secret=added.secret)
    elif word == "remove":
        removed = await service.remove(context.person, rest, chat_id=chat_id(update))
        await reply(update, context, "webhooks/removed", endpoint_id=removed)
    elif word == "test":
        endpoint = await service.test(context.person, rest)
        await reply(update, context, "webhooks/test", endpoint=endpoint)
    elif word == "log" or word.lstrip("#").isdigit():
        shown = await service.log(context.person, rest if word == "log" else word)
        await reply(update, context, "webhooks/log", shown=shown)
    else:
        raise InvalidWebhook(USAGE)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("webhooks", webhooks))
