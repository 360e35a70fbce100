"""The crew's side: Confirm / Decline, "Change my answer", Skip, "I've read it", and the
reason for a decline typed as a reply.

What happens when crew press Confirm: `answer_pressed`, which calls
`AssignmentService.respond` (services/assignments/_answer.py).
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.context import CallsheetApplication, CallsheetContext
from handlers.assignments.mine import redraw
from handlers.events._common import button
from handlers.shared import chat_id, render, reply
from services.assignments import Answer
from services.buttons.assignments import (
    AnswerPress,
    BriefingRead,
    ChangeAnswer,
    Noop,
    Reply,
    SkipReason,
)

REASON_MARKER = re.compile(r"\(invitation #(\d+)\)")


async def answer_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None  # require_known_person ran first
    press = AnswerPress.parse(query.data)
    assert press is not None
    answer = Answer.CONFIRM if press.reply is Reply.YES else Answer.DECLINE
    service = context.services.assignments
    result = await service.respond(
        press.assignment_id,
        answer,
        person=context.person,
        chat_id=chat_id(update),
        wake_outbox=False,
    )
    # The answer is committed: the person's spinner stops first, then the outbox delivers
    # the invitation's edit and the manager's message (they would compete with it).
    try:
        if not result.changed:
            await query.answer(f"You already {result.assignment.status.value} this one.")
        elif answer is Answer.CONFIRM:
            await query.answer("✅ Confirmed. Thank you!")
        else:
            await query.answer("❌ Declined.")
    finally:
        service.outbox.wake()
    if press.from_my:
        await redraw(query.message, context, press.page)
    if result.changed and answer is Answer.DECLINE:
        assert query.message is not None
        await context.bot.send_message(
            query.message.chat.id,
            render(context, "assignments/why_declined", result=result),
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup([[button("Skip", SkipReason(result.assignment.id))]]),
        )


async def change_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = ChangeAnswer.parse(query.data)
    assert press is not None
    await context.services.assignments.reopen(press.assignment_id, person=context.person)
    await query.answer("Tap Confirm or Decline")


async def skip_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = SkipReason.parse(query.data)
    assert press is not None
    await context.services.assignments.skip_reason(press.assignment_id, person=context.person)
    await query.answer("OK, no reason given.")
    if isinstance(query.message, Message):
        await query.message.edit_text(
            render(context, "assignments/no_reason"), parse_mode=ParseMode.HTML
        )


async def read_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = BriefingRead.parse(query.data)
    assert press is not None
    await context.services.assignments.acknowledge(
        press.assignment_id,
        person=context.person,
        chat_id=chat_id(update),
    )
    await query.answer("Thanks, noted.")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(InlineKeyboardMarkup([[button("✅ Read", Noop())]]))


async def noop(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()


class _ReasonReply(filters.MessageFilter):
    """A reply to our "tell your manager why" message."""

    def filter(self, message: Message) -> bool:
        target = message.reply_to_message
        return bool(
            target is not None
            and target.from_user is not None
            and target.from_user.is_bot
            and REASON_MARKER.search(target.text or "")
        )


async def reason_given(update: Update, context: CallsheetContext) -> None:
    message = update.message
    assert message is not None and message.reply_to_message is not None
    match = REASON_MARKER.search(message.reply_to_message.text or "")
    assert match is not None
    await take_reason(update, context, int(match.group(1)))


async def take_reason(update: Update, context: CallsheetContext, assignment_id: int) -> None:
    message = update.message
    assert message is not None and context.person is not None
    await context.services.assignments.give_reason(
        assignment_id, message.text or "", person=context.person, chat_id=message.chat_id
    )
    await reply(update, context, "assignments/reason_sent")


def register(application: CallsheetApplication) -> None:
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & _ReasonReply(), reason_given)
    )
    application.add_handler(CallbackQueryHandler(answer_pressed, pattern=AnswerPress.matches))
    application.add_handler(CallbackQueryHandler(change_pressed, pattern=ChangeAnswer.matches))
    application.add_handler(CallbackQueryHandler(skip_pressed, pattern=SkipReason.matches))
    application.add_handler(CallbackQueryHandler(read_pressed, pattern=BriefingRead.matches))
    application.add_handler(CallbackQueryHandler(noop, pattern=Noop.matches))
