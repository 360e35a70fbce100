"""/person and a person's card: opening it, deactivating and reactivating, a new link. The
card's Edit presses are in edit.py; every press is re-authorised from the database."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.people._views import (
    answer,
    button,
    edit,
    keyboard,
    refresh_commands,
    render_card,
    renderer,
    send,
)
from handlers.people.edit import edit_menu, set_access
from handlers.shared import args_text, chat_id, managers_only, render
from services.buttons import in_area
from services.buttons.people import (
    AREA,
    AskDeactivate,
    BackToCard,
    Deactivate,
    EditPerson,
    NewLink,
    OpenCard,
    Reactivate,
    SetAccess,
)
from services.people import Among

DOING = "see or change people"


@managers_only(DOING)
async def person(update: Update, context: CallsheetContext) -> None:
    typed = args_text(update)
    if not typed:
        await answer(update, context, "people/which_person")
        return
    people = context.services.people
    found = await people.find(typed, among=Among.EVERYONE)
    card = await people.card(context.person, found.id)
    await send(update, *render_card(renderer(context), card))


@managers_only(DOING)
async def open_card(update: Update, context: CallsheetContext) -> None:
    """The card as a new message (OpenCard), or in place of the pressed one (BackToCard)."""
    query = update.callback_query
    assert query is not None
    back = BackToCard.parse(query.data)
    press = back or OpenCard.parse(query.data)
    assert press is not None
    card = await context.services.people.card(context.person, press.person_id)
    if back is not None:
        await edit(query, *render_card(renderer(context), card))
    else:
        await send(update, *render_card(renderer(context), card))
    await query.answer()


@managers_only(DOING)
async def ask_deactivate(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = AskDeactivate.parse(query.data)
    assert press is not None
    person = await context.services.people.check_can_deactivate(context.person, press.person_id)
    await edit(
        query,
        render(context, "people/deactivate_ask", person=person),
        keyboard(
            [button("Yes, deactivate", Deactivate(person.id)), button("No", BackToCard(person.id))]
        ),
    )
    await query.answer()


@managers_only(DOING)
async def set_active(update: Update, context: CallsheetContext) -> None:
    """Yes, deactivate (Deactivate) or Reactivate: the card again, with what was done."""
    query = update.callback_query
    assert query is not None
    people = context.services.people
    actor = context.person
    reactivate = Reactivate.parse(query.data)
    if reactivate is not None:
        person = await people.set_active(actor, reactivate.person_id, True, chat_id=chat_id(update))
        note = render(context, "people/card_note", what="reactivated", person=person)
    else:
        press = Deactivate.parse(query.data)
        assert press is not None
        done = await people.deactivate(actor, press.person_id, chat_id=chat_id(update))
        person = done.person
        note = render(context, "people/card_note", what="deactivated", done=done)
    await refresh_commands(context, person)
    card = await people.card(actor, person.id)
    await edit(query, *render_card(renderer(context), card, note))
    state = "reactivated" if person.active else "deactivated"
    await query.answer(f"{person.name} is {state}."[:200])


@managers_only(DOING)
async def new_link(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = NewLink.parse(query.data)
    assert press is not None
    invite = await context.services.people.new_link(
        context.person, press.person_id, chat_id=chat_id(update)
    )
    await answer(update, context, "people/invite", invite=invite, new_link=True)
    await query.answer("New link made.")


async def stale(update: Update, context: CallsheetContext) -> None:
    """A per: press no handler took: Skip, Save or Cancel of a form that already ended, or
    data that was never ours."""
    assert update.callback_query is not None
    await update.callback_query.answer("This button is no longer active.", show_alert=True)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("person", person))
    for callback, press in (
        (open_card, OpenCard),
        (open_card, BackToCard),
        (edit_menu, EditPerson),
        (set_access, SetAccess),
        (ask_deactivate, AskDeactivate),
        (set_active, Deactivate),
        (set_active, Reactivate),
        (new_link, NewLink),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=press.matches))
    application.add_handler(CallbackQueryHandler(stale, pattern=in_area(AREA)))
