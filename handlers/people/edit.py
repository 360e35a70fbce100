"""Changing a person from their card: Edit (which field), typing the new value, and
making someone a manager or crew."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.context import CallsheetContext
from handlers.people._views import (
    DRAFT,
    EDITING,
    FIELD_LABELS,
    Editing,
    Step,
    answer,
    button,
    cancel_keyboard,
    edit,
    keyboard,
    refresh_commands,
    render_card,
    renderer,
    send,
    user_data,
)
from handlers.shared import chat_id, managers_only, render, tell_refusal
from models import Access
from services.buttons.people import BackToCard, EditField, EditPerson, SetAccess
from services.errors import CallsheetError, NotAllowed
from services.people import PersonField, PersonNotFound
from services.phones import display_phone

END = ConversationHandler.END
DOING = "see or change people"


@managers_only(DOING)
async def edit_menu(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = EditPerson.parse(query.data)
    assert press is not None
    person = await context.services.people.get_person(context.person, press.person_id)
    access = (
        button("Make crew (not manager)", SetAccess(person.id, Access.CREW))
        if person.access is Access.MANAGER
        else button("Make manager", SetAccess(person.id, Access.MANAGER))
    )
    await edit(
        query,
        render(context, "people/edit_menu", person=person),
        keyboard(
            [
                button("Name", EditField(person.id, PersonField.NAME)),
                button("Phone", EditField(person.id, PersonField.PHONE)),
            ],
            [
                button("Email", EditField(person.id, PersonField.EMAIL)),
                button("Roles", EditField(person.id, PersonField.ROLES)),
            ],
            [access],
            [button("Back", BackToCard(person.id))],
        ),
    )
    await query.answer()


@managers_only(DOING)
async def set_access(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = SetAccess.parse(query.data)
    assert press is not None
    people = context.services.people
    person = await people.set_access(
        context.person, press.person_id, press.access, chat_id=chat_id(update)
    )
    await refresh_commands(context, person)
    card = await people.card(context.person, person.id)
    note = render(context, "people/card_note", what="access", person=person)
    await edit(query, *render_card(renderer(context), card, note))
    await query.answer("Saved.")


@managers_only(DOING)
async def edit_field_start(update: Update, context: CallsheetContext) -> int:
    """Entry to the conversation: the next text message is the field's new value."""
    query = update.callback_query
    assert query is not None
    press = EditField.parse(query.data)
    assert press is not None
    person = await context.services.people.get_person(context.person, press.person_id)
    await query.answer()
    user_data(context).pop(DRAFT, None)
    user_data(context)[EDITING] = Editing(person.id, press.field)
    current = {
        PersonField.NAME: person.name,
        PersonField.PHONE: display_phone(person.phone),
        PersonField.EMAIL: person.email or "none",
        PersonField.ROLES: ", ".join(person.skill_list) or "no roles",
    }[press.field]
    text = render(
        context,
        "people/edit_asked",
        person=person,
        label=FIELD_LABELS[press.field],
        now_value=current,
        removable=press.field is PersonField.EMAIL,
    )
    await edit(query, text, cancel_keyboard())
    return Step.EDIT_VALUE


async def edit_value(update: Update, context: CallsheetContext) -> int:
    editing = user_data(context).get(EDITING)
    if not isinstance(editing, Editing):
        return END
    assert update.message is not None
    actor = context.person
    people = context.services.people
    try:
        await people.edit(
            actor,
            editing.person_id,
            editing.field,
            update.message.text or "",
            chat_id=chat_id(update),
        )
        card = await people.card(actor, editing.person_id)
    except (NotAllowed, PersonNotFound) as exc:
        # Typing again cannot help: access was taken away or the person is gone.
        user_data(context).pop(EDITING, None)
        await tell_refusal(update, exc)
        return END
    except CallsheetError as exc:
        label = FIELD_LABELS[editing.field]
        await answer(
            update, context, "people/edit_again", cancel_keyboard(), error=str(exc), label=label
        )
        return Step.EDIT_VALUE
    user_data(context).pop(EDITING, None)
    label = FIELD_LABELS[editing.field].capitalize()
    note = render(context, "people/card_note", what="saved", label=label)
    await send(update, *render_card(renderer(context), card, note))
    return END
