"""/activity [person | EV12 | today]: the company's history, newest first, with ‹ Prev and
Next › editing the one message in place."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.shared import args_text, managers_only, render
from services.buttons.insight import ActivityPage
from services.insight import ActivityView

MANAGER_COMMANDS += [
    Command(
        "activity",
        "Who did what and when: /activity [person | EV12 | today]",
        "/activity Jane",
    ),
]


def _page(context: CallsheetContext, view: ActivityView) -> tuple[str, InlineKeyboardMarkup | None]:
    nav = []
    if view.page > 0:
        nav.append(InlineKeyboardButton("‹ Prev", callback_data=view.press(view.page - 1).pack()))
    if view.page < view.pages - 1:
        nav.append(InlineKeyboardButton("Next ›", callback_data=view.press(view.page + 1).pack()))
    markup = InlineKeyboardMarkup([nav]) if nav else None
    return render(context, "insight/activity", view=view), markup


@managers_only("see the activity")
async def activity_command(update: Update, context: CallsheetContext) -> None:
    view = await context.services.activity.for_manager(context.person, args_text(update))
    text, markup = _page(context, view)
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


@managers_only("see the activity")
async def page_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = ActivityPage.parse(query.data)
    assert press is not None
    view = await context.services.activity.turn(context.person, press)
    await query.answer()
    text, markup = _page(context, view)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("activity", activity_command))
    application.add_handler(CallbackQueryHandler(page_pressed, pattern=ActivityPage.matches))
