"""/crew: the crew list, filtered by a role or part of a name, in pages."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.people._views import answer, edit, render_roster, renderer, send
from handlers.shared import args_text, managers_only
from services.buttons.people import RosterPage

DOING = "see the crew list"


@managers_only(DOING)
async def crew(update: Update, context: CallsheetContext) -> None:
    query = args_text(update)
    try:
        RosterPage(999, query).pack()  # the filter rides on the Next button
    except ValueError:
        await answer(update, context, "people/filter_too_long")
        return
    people = await context.services.people.roster(context.person, query)
    await send(update, *render_roster(renderer(context), people, " ".join(query.split()), 0))


@managers_only(DOING)
async def page(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = RosterPage.parse(query.data)
    assert press is not None
    people = await context.services.people.roster(context.person, press.query)
    await edit(query, *render_roster(renderer(context), people, press.query, press.page))
    await query.answer()


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("crew", crew))
    application.add_handler(CallbackQueryHandler(page, pattern=RosterPage.matches))
