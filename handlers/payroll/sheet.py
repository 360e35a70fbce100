"""/payroll: an event's pay sheet (build, change a line), its buttons (Submit, Approve,
pages) and the event card's Pay crew. The sheet itself is one live message the payroll
service queues; these handlers only read the update and answer it."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.shared import args_text, chat_id, managers_only, reply
from services.buttons.payroll import ApproveSheet, PayCrew, PaySheetNow, SheetPage, SubmitSheet
from services.ids import parse_id
from services.payroll import events_to_pay


@managers_only("prepare pay sheets")
async def payroll_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    text = args_text(update)
    if not text:
        events = await events_to_pay(context.person)
        rows = [
            [
                InlineKeyboardButton(
                    f"#{e.id} {e.title[:30]} · {context.services.when(e.starts_at)}",
                    callback_data=PayCrew(e.id).pack(),
                )
            ]
            for e in events
        ]
        await reply(
            update,
            context,
            "payroll/pick",
            InlineKeyboardMarkup(rows) if rows else None,
            events=events,
        )
        return
    parts = [p.strip() for p in text.split("|")]
    event_id = parse_id(parts[0])
    if event_id is None:
        await reply(update, context, "payroll/usage", text=parts[0][:30])
        return
    payroll = context.services.payroll
    if len(parts) == 1:
        await payroll.open(context.person, event_id, chat_id=chat_id(update))
        return
    if len(parts) != 3:
        await reply(update, context, "payroll/change_parts", event_id=event_id)
        return
    done = await payroll.change(
        context.person, event_id, parts[1], parts[2], chat_id=chat_id(update)
    )
    await reply(update, context, "payroll/changed", done=done)


@managers_only("prepare pay sheets")
async def pay_crew_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = PayCrew.parse(query.data)
    assert press is not None
    await context.services.payroll.open(context.person, press.event_id, chat_id=chat_id(update))
    await query.answer("The pay sheet is on its way")


@managers_only("submit pay sheets")
async def submit_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = SubmitSheet.parse(query.data)
    assert press is not None
    await context.services.payroll.submit(context.person, press.sheet_id, chat_id=chat_id(update))
    await query.answer("Submitted for approval")


@managers_only("approve pay sheets")
async def approve_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = ApproveSheet.parse(query.data)
    assert press is not None
    await context.services.payroll.approve(context.person, press.sheet_id, chat_id=chat_id(update))
    await query.answer("✅ Approved: ready to pay")


@managers_only("pay the crew")
async def pay_pressed(update: Update, context: CallsheetContext) -> None:
    """Pay, Pay again or Retry failed: the balance is checked first, then the sender pays;
    the sheet message follows it live."""
    query = update.callback_query
    assert query is not None and context.person is not None
    press = PaySheetNow.parse(query.data)
    assert press is not None
    runs = context.services.pay_runs
    if runs is None:
        await query.answer(
            "❌ Payments are off: set the DARAJA_ settings (see the README).", show_alert=True
        )
        return
    net = await runs.pay(context.person, press.sheet_id, chat_id=chat_id(update))
    await query.answer(f"⏳ Checking the M-Pesa balance, then paying KES {net:,}")


@managers_only("see pay sheets")
async def page_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = SheetPage.parse(query.data)
    assert press is not None
    await context.services.payroll.show(
        context.person,
        press.sheet_id,
        press.page,
        chat_id=chat_id(update),
        message_id=query.message.message_id if query.message else None,
    )

    await query.answer()


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("payroll", payroll_command))
    application.add_handler(CallbackQueryHandler(pay_crew_pressed, pattern=PayCrew.matches))
    application.add_handler(CallbackQueryHandler(submit_pressed, pattern=SubmitSheet.matches))
    application.add_handler(CallbackQueryHandler(approve_pressed, pattern=ApproveSheet.matches))
    application.add_handler(CallbackQueryHandler(page_pressed, pattern=SheetPage.matches))
    application.add_handler(CallbackQueryHandler(pay_pressed, pattern=PaySheetNow.matches))
