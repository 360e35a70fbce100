"""/addcrew and /addmanager: everything on one line, or a guided form (name, phone, email,
roles, then Save). The form's states live in the people conversation (form.py)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ConversationHandler

from bot.context import CallsheetContext
from handlers.people._views import (
    DRAFT,
    EDITING,
    Draft,
    Step,
    answer,
    button,
    cancel_keyboard,
    edit,
    keyboard,
    message_text,
    user_data,
)
from handlers.shared import args_text, chat_id, managers_only, render
from models import Access
from services.buttons.people import CancelForm, OpenCard, SaveDraft, SkipEmail
from services.errors import CallsheetError
from services.people import Invite, clean_email, clean_name, required_skills

END = ConversationHandler.END
STEP_NAMES = {Step.NAME: "name", Step.PHONE: "phone", Step.EMAIL: "email", Step.ROLES: "roles"}


def skip_keyboard() -> InlineKeyboardMarkup:
    return keyboard([button("Skip", SkipEmail()), button("Cancel", CancelForm())])


@managers_only("add crew")
async def add_crew(update: Update, context: CallsheetContext) -> int:
    return await _start(update, context, Access.CREW)


@managers_only("add managers")
async def add_manager(update: Update, context: CallsheetContext) -> int:
    return await _start(update, context, Access.MANAGER)


async def _start(update: Update, context: CallsheetContext, access: Access) -> int:
    user_data(context).pop(EDITING, None)
    text = args_text(update)
    if text:
        await _add_inline(update, context, access, text)
        return END
    user_data(context)[DRAFT] = Draft(access)
    await answer(
        update,
        context,
        "people/add_started",
        cancel_keyboard(),
        manager=access is Access.MANAGER,
        step="name",
    )
    return Step.NAME


async def _add_inline(update: Update, context: CallsheetContext, access: Access, text: str) -> None:
    parts = [part.strip() for part in text.split("|")]
    if len(parts) not in (3, 4):
        command = "addmanager" if access is Access.MANAGER else "addcrew"
        await answer(update, context, "people/add_usage", command=command)
        return
    name, phone = parts[0], parts[1]
    email, roles = (parts[2], parts[3]) if len(parts) == 4 else (None, parts[2])
    invite = await context.services.people.add_person(
        name=name,
        phone=phone,
        email=email,
        skills=required_skills(roles),
        access=access,
        actor=context.person,
        chat_id=chat_id(update),
    )
    await send_invite(update, context, invite)


async def send_invite(update: Update, context: CallsheetContext, invite: Invite) -> None:
    await answer(
        update,
        context,
        "people/invite",
        keyboard([button("Open card", OpenCard(invite.person.id))]),
        invite=invite,
        new_link=False,
    )


def draft_of(context: CallsheetContext) -> Draft | None:
    draft = user_data(context).get(DRAFT)
    return draft if isinstance(draft, Draft) else None


async def ask(update: Update, context: CallsheetContext, step: Step, **error: str) -> int:
    """The question of `step` (after a refusal, its reason first)."""
    markup = skip_keyboard() if step is Step.EMAIL else cancel_keyboard()
    await answer(update, context, "people/question", markup, step=STEP_NAMES[step], **error)
    return step


async def add_name(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.name = clean_name(message_text(update))
    except CallsheetError as exc:  # asked again, the form stays open
        return await ask(update, context, Step.NAME, error=str(exc))
    return await ask(update, context, Step.PHONE)


async def add_phone(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.phone = await context.services.people.check_new_phone(message_text(update))
    except CallsheetError as exc:
        return await ask(update, context, Step.PHONE, error=str(exc))
    return await ask(update, context, Step.EMAIL)


async def add_email(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.email = clean_email(message_text(update))
    except CallsheetError as exc:
        return await ask(update, context, Step.EMAIL, error=str(exc))
    return await ask(update, context, Step.ROLES)


async def add_skip_email(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = draft_of(context)
    await query.answer()
    if draft is None:
        return END
    draft.email = None
    await edit(query, render(context, "people/email_skipped", step="email"), None)
    return await ask(update, context, Step.ROLES)


async def add_roles(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.roles = required_skills(message_text(update))
    except CallsheetError as exc:
        return await ask(update, context, Step.ROLES, error=str(exc))
    await answer(
        update,
        context,
        "people/summary",
        keyboard([button("Save", SaveDraft()), button("Cancel", CancelForm())]),
        draft=draft,
        saved=False,
    )
    return Step.CONFIRM


async def add_confirm_text(update: Update, context: CallsheetContext) -> int:
    await answer(update, context, "people/confirm_hint")
    return Step.CONFIRM


async def add_save(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = draft_of(context)
    if draft is None:
        await query.answer("This form is finished. Send /addcrew to start again.", show_alert=True)
        return END
    try:
        invite = await context.services.people.add_person(
            name=draft.name,
            phone=draft.phone,
            email=draft.email,
            skills=draft.roles,
            access=draft.access,
            actor=context.person,
            chat_id=chat_id(update),
        )
    except CallsheetError as exc:
        # Nothing was saved (a race on the phone, or access taken away): the form ends here.
        await query.answer()
        user_data(context).pop(DRAFT, None)
        summary = render(context, "people/summary", draft=draft, saved=False, error=str(exc))
        await edit(query, summary, None)
        return END
    await query.answer("Saved.")
    user_data(context).pop(DRAFT, None)
    await edit(query, render(context, "people/summary", draft=draft, saved=True), None)
    await send_invite(update, context, invite)
    return END
