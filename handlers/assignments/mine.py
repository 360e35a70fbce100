"""/my: a person's invitations and assignments, a page at a time, answerable in place."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.events._common import button
from handlers.shared import render
from models import Assignment
from services.assignments import MyPage, MySection
from services.buttons.assignments import AnswerPress, MyPageTurn, Origin, Reply

PAGE_SIZE = 8

SECTION_TITLES = {
    MySection.PENDING: "⏳ Waiting for your answer",
    MySection.UPCOMING: "✅ Coming up",
    MySection.PAST: "Past",
    MySection.DECLINED: "❌ Declined",
}


def render_my(mine: MyPage, context: CallsheetContext) -> tuple[str, InlineKeyboardMarkup | None]:
    if not mine.entries:
        return render(context, "assignments/my_empty"), None
    page = mine.page
    rows: list[list[InlineKeyboardButton]] = []
    for section, a in mine.entries:
        if section is MySection.PENDING:
            # People know an event by its number; the buttons carry the invitation's own id.
            rows.append(
                [
                    button(
                        f"✅ Confirm #{a.event.id}", AnswerPress(Reply.YES, a.id, Origin.MY, page)
                    ),
                    button(
                        f"❌ Decline #{a.event.id}", AnswerPress(Reply.NO, a.id, Origin.MY, page)
                    ),
                ]
            )
    if mine.pages > 1:
        nav = []
        if page > 0:
            nav.append(button("◀ Newer", MyPageTurn(page - 1)))
        if page < mine.pages - 1:
            nav.append(button("Older ▶", MyPageTurn(page + 1)))
        rows.append(nav)
    sections: list[tuple[MySection, list[Assignment]]] = []
    for section, a in mine.entries:
        if not sections or sections[-1][0] is not section:
            sections.append((section, []))
        sections[-1][1].append(a)
    text = render(
        context,
        "assignments/my",
        sections=[(SECTION_TITLES[s], s, entries) for s, entries in sections],
        MySection=MySection,
        mine=mine,
    )
    return text, InlineKeyboardMarkup(rows) if rows else None


async def my_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None and update.effective_message is not None
    mine = await context.services.assignments.my(context.person, 0, PAGE_SIZE)
    text, markup = render_my(mine, context)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def my_page(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = MyPageTurn.parse(query.data)
    assert press is not None
    await query.answer()
    await redraw(query.message, context, press.page)


async def redraw(message: object, context: CallsheetContext, page: int) -> None:
    """Page `page` of /my edited into the message that showed it."""
    assert context.person is not None
    mine = await context.services.assignments.my(context.person, page, PAGE_SIZE)
    text, markup = render_my(mine, context)
    if isinstance(message, Message):
        await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("my", my_command))
    application.add_handler(CallbackQueryHandler(my_page, pattern=MyPageTurn.matches))
