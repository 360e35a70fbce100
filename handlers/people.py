"""Managers' people commands: /addcrew, /addmanager, /crew, /person and the person card."""

from __future__ import annotations

import html
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from telegram import (
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetContext
from handlers.common import current_person, set_commands_for
from models import Access, Person
from services.errors import CallsheetError, NotAllowed, require_manager
from services.ids import parse_id
from services.money import format_kes
from services.people import (
    Among,
    Deactivated,
    Invite,
    PersonCard,
    PersonField,
    PersonNotFound,
    clean_email,
    clean_name,
    required_skills,
)
from services.phones import display_phone

log = logging.getLogger(__name__)

AREA = "per"
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit
PAGE_PEOPLE = 10
PAGE_CHARS = MessageLimit.MAX_TEXT_LENGTH - 400  # room for the header and footer
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
DRAFT = "people.draft"
EDITING = "people.editing"


class Step(IntEnum):
    """Where a manager is in a guided /addcrew, or in typing a new value on a card."""

    NAME = 1
    PHONE = 2
    EMAIL = 3
    ROLES = 4
    CONFIRM = 5
    EDIT_VALUE = 6


END = ConversationHandler.END


@dataclass
class Draft:
    access: Access
    name: str = ""
    phone: str = ""
    email: str | None = None
    roles: str = ""


@dataclass(frozen=True)
class Editing:
    person_id: int
    field: PersonField


QUESTIONS = {
    Step.NAME: "What is their full name? (like Jane Wanjiku)",
    Step.PHONE: "Their mobile number? (like 0712 345 678)",
    Step.EMAIL: "Their email address? I send their link there too. Tap Skip if they have none.",
    Step.ROLES: "Their roles, separated by commas? (like sound engineer, rigger)",
}
FIELD_LABELS = {
    PersonField.NAME: "name",
    PersonField.PHONE: "phone number",
    PersonField.EMAIL: "email address",
    PersonField.ROLES: "roles",
}


# --- buttons --------------------------------------------------------------------------------


def data(action: str, ident: int | str = 0, more: str | None = None) -> str:
    value = f"{AREA}:{action}:{ident}" + (f":{more}" if more is not None else "")
    if len(value.encode()) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"callback data over {CALLBACK_DATA_LIMIT} bytes: {value!r}")
    return value


def button(text: str, action: str, ident: int | str = 0, more: str | None = None) -> Any:
    return InlineKeyboardButton(text, callback_data=data(action, ident, more))


def keyboard(*rows: list[Any]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([row for row in rows if row])


CANCEL = keyboard([button("Cancel", "cancel")])


@dataclass(frozen=True)
class Press:
    action: str
    ident: int
    more: str


def parse_press(query: CallbackQuery) -> Press | None:
    """`per:<action>:<id>[:<more>]`, or None for anything else (forged or garbled)."""
    parts = (query.data or "").split(":", 3)
    if len(parts) < 3 or parts[0] != AREA:
        return None
    # 0: the first page, or no person (Cancel, Save); else an id a row can have.
    ident = 0 if parts[2] == "0" else parse_id(parts[2])
    if ident is None:
        return None
    return Press(parts[1], ident, parts[3] if len(parts) > 3 else "")


# --- rendering ------------------------------------------------------------------------------


def roles_text(person: Person) -> str:
    return ", ".join(person.skill_list) or "no roles"


def linked_text(person: Person) -> str:
    if person.telegram_id is None:
        return "not linked"
    return "✅ linked" + (f" (@{person.telegram_username})" if person.telegram_username else "")


def roster_line(person: Person) -> str:
    roles = roles_text(person)
    if len(roles) > 120:
        roles = roles[:119] + "…"
    return (
        f"<b>{html.escape(person.name)}</b> #{person.id} — {html.escape(roles)}\n"
        f"    {display_phone(person.phone)} · {linked_text(person)} · "
        f"{format_kes(person.balance)}"
    )


def paginate(lines: list[str], per_page: int = PAGE_PEOPLE, chars: int = PAGE_CHARS) -> list[range]:
    """Index ranges of `lines`, at most `per_page` lines and `chars` characters each."""
    pages: list[range] = []
    start, size = 0, 0
    for index, line in enumerate(lines):
        if index > start and (index - start >= per_page or size + len(line) + 2 > chars):
            pages.append(range(start, index))
            start, size = index, 0
        size += len(line) + 2
    if lines:
        pages.append(range(start, len(lines)))
    return pages


def render_roster(
    people: list[Person], query: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    wanted = html.escape(query)
    if not people:
        if query:
            return f"No one on the crew list matches “{wanted}”. Send /crew for everyone.", None
        return "The crew list is empty. Add someone with /addcrew.", None
    lines = [roster_line(p) for p in people]
    pages = paginate(lines)
    page = min(max(page, 0), len(pages) - 1)
    shown = pages[page]
    count = f"{len(people)} {'person' if len(people) == 1 else 'people'}"
    title = f"<b>Crew matching “{wanted}”</b>" if query else "<b>Crew</b>"
    header = f"{title} — {count}"
    if len(pages) > 1:
        header += f", page {page + 1} of {len(pages)}"
    text = "\n\n".join(
        [header, *(lines[i] for i in shown), "Tap a name for their card, or send /person 12."]
    )
    names = [button(people[i].name[:40], "card", people[i].id) for i in shown]
    rows = [names[i : i + 2] for i in range(0, len(names), 2)]
    nav = []
    if page > 0:
        nav.append(button("« Prev", "page", page - 1, query))
    if page < len(pages) - 1:
        nav.append(button("Next »", "page", page + 1, query))
    return text, keyboard(*rows, nav)


def render_card(
    card: PersonCard, when: Callable[[datetime], str], note: str = ""
) -> tuple[str, InlineKeyboardMarkup]:
    person = card.person
    access = "Manager" if person.access is Access.MANAGER else "Crew"
    state = "active" if person.active else "❌ inactive"
    lines = [
        f"<b>{html.escape(person.name)}</b> #{person.id}",
        f"{access} · {state}",
        f"Phone: {display_phone(person.phone)}",
        f"Email: {html.escape(person.email or 'none')}",
        f"Roles: {html.escape(roles_text(person))}",
        f"Telegram: {html.escape(linked_text(person))}",
        f"Balance: {format_kes(person.balance)}",
        "",
        "<b>Assignments</b>",
    ]
    if card.assignments:
        lines += [
            f"{when(a.starts_at)} · {html.escape(a.event_title)} · "
            f"{html.escape(a.role)} · {a.status.value}"
            for a in card.assignments
        ]
        if card.more_assignments:
            lines.append(f"…and {card.more_assignments} older")
    else:
        lines.append("None yet.")
    if note:
        lines = [note, "", *lines]
    if person.active:
        markup = keyboard(
            [button("Edit", "edit", person.id), button("Deactivate", "deact", person.id)],
            [
                button("New link", "link", person.id),
                # The communication history lives with the outbox (handlers/emails.py).
                InlineKeyboardButton("Messages", callback_data=f"out:hist:{person.id}"),
            ],
        )
    else:
        markup = keyboard(
            [button("Edit", "edit", person.id), button("Reactivate", "react", person.id)]
        )
    return "\n".join(lines), markup


def render_invite(invite: Invite, when: Callable[[datetime], str], heading: str) -> str:
    person = invite.person
    lines = [
        heading,
        "",
        f"Their one-time link (works once, until {when(invite.expires_at)}):",
        html.escape(invite.link),
        "",
    ]
    if person.email:
        lines.append(f"I have also emailed it to {html.escape(person.email)}.")
    else:
        lines.append(
            "They have no email, so please forward this link to them (WhatsApp or SMS). "
            "They open it on their phone and press Start."
        )
    return "\n".join(lines)


def render_summary(draft: Draft) -> str:
    kind = "manager" if draft.access is Access.MANAGER else "crew member"
    return "\n".join(
        [
            f"Add this {kind}?",
            "",
            f"Name: {html.escape(draft.name)}",
            f"Phone: {display_phone(draft.phone)}",
            f"Email: {html.escape(draft.email or 'none')}",
            f"Roles: {html.escape(draft.roles.replace(',', ', '))}",
        ]
    )


# --- small helpers --------------------------------------------------------------------------


def argument_text(update: Update) -> str:
    """What follows the command, as typed (keeps the `|` separators and spacing)."""
    assert update.message is not None
    return (update.message.text or "").partition(" ")[2].strip()


def message_text(update: Update) -> str:
    return (update.message.text if update.message else None) or ""


def user_data(context: CallsheetContext) -> dict[Any, Any]:
    assert context.user_data is not None  # private chats always have a user
    return context.user_data


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


async def refuse(update: Update, error: CallsheetError, markup: Any = None) -> None:
    await reply(update, f"❌ {html.escape(str(error))}", markup)


async def edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
        )
    except BadRequest as exc:
        if "not modified" not in exc.message:
            raise


async def refresh_commands(context: CallsheetContext, person: Person) -> None:
    """After access changes the person's command menu must match what they may do now."""
    if person.active:
        await set_commands_for(context, person)
        return
    if person.telegram_id is None:
        return
    try:
        await context.bot.delete_my_commands(scope=BotCommandScopeChat(person.telegram_id))
    except TelegramError:
        log.warning("deleteMyCommands failed for chat %s", person.telegram_id, exc_info=True)


def chat_id(update: Update) -> int | None:
    return update.effective_chat.id if update.effective_chat else None


# --- /addcrew and /addmanager -------------------------------------------------------------


async def add_start(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None
    command = (update.message.text or "").split()[0].lstrip("/").split("@")[0].lower()
    access = Access.MANAGER if command == "addmanager" else Access.CREW
    actor = await current_person(update, context)
    try:
        require_manager(actor, "add managers" if access is Access.MANAGER else "add crew")
    except CallsheetError as exc:
        await refuse(update, exc)
        return END
    user_data(context).pop(EDITING, None)
    text = argument_text(update)
    if text:
        await add_inline(update, context, actor, access, text)
        return END
    user_data(context)[DRAFT] = Draft(access)
    kind = "a manager" if access is Access.MANAGER else "a crew member"
    await reply(
        update,
        f"Adding {kind}. Send /cancel or tap Cancel to stop.\n\n{QUESTIONS[Step.NAME]}",
        CANCEL,
    )
    return Step.NAME


async def add_inline(
    update: Update, context: CallsheetContext, actor: Person | None, access: Access, text: str
) -> None:
    parts = [part.strip() for part in text.split("|")]
    if len(parts) not in (3, 4):
        command = "addmanager" if access is Access.MANAGER else "addcrew"
        await reply(
            update,
            f"❌ I need 3 or 4 parts separated by |: name | phone | email (optional) | roles. "
            f"For example:\n<code>/{command} Jane Wanjiku | 0712345678 | jane@example.com | "
            f"sound engineer, rigger</code>\nor send /{command} alone and I will ask for each.",
        )
        return
    name, phone = parts[0], parts[1]
    email, roles = (parts[2], parts[3]) if len(parts) == 4 else (None, parts[2])
    try:
        invite = await context.services.people.add_person(
            name=name,
            phone=phone,
            email=email,
            skills=required_skills(roles),
            access=access,
            actor=actor,
            chat_id=chat_id(update),
        )
    except CallsheetError as exc:
        await refuse(update, exc)
        return
    await send_invite(update, context, invite)


async def send_invite(update: Update, context: CallsheetContext, invite: Invite) -> None:
    person = invite.person
    kind = "a manager" if person.access is Access.MANAGER else "crew"
    heading = (
        f"✅ Added <b>{html.escape(person.name)}</b> #{person.id} as {kind} "
        f"({html.escape(roles_text(person))})."
    )
    await reply(
        update,
        render_invite(invite, context.services.when, heading),
        keyboard([button("Open card", "card", person.id)]),
    )


def draft_of(context: CallsheetContext) -> Draft | None:
    draft = user_data(context).get(DRAFT)
    return draft if isinstance(draft, Draft) else None


async def ask_again(update: Update, error: CallsheetError, step: Step) -> int:
    await reply(update, f"❌ {html.escape(str(error))}\n\n{QUESTIONS[step]}", CANCEL)
    return step


async def add_name(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.name = clean_name(message_text(update))
    except CallsheetError as exc:
        return await ask_again(update, exc, Step.NAME)
    await reply(update, QUESTIONS[Step.PHONE], CANCEL)
    return Step.PHONE


async def add_phone(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.phone = await context.services.people.check_new_phone(message_text(update))
    except CallsheetError as exc:
        return await ask_again(update, exc, Step.PHONE)
    await reply(
        update,
        QUESTIONS[Step.EMAIL],
        keyboard([button("Skip", "skip"), button("Cancel", "cancel")]),
    )
    return Step.EMAIL


async def add_email(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.email = clean_email(message_text(update))
    except CallsheetError as exc:
        await reply(
            update,
            f"❌ {html.escape(str(exc))}\n\n{QUESTIONS[Step.EMAIL]}",
            keyboard([button("Skip", "skip"), button("Cancel", "cancel")]),
        )
        return Step.EMAIL
    await reply(update, QUESTIONS[Step.ROLES], CANCEL)
    return Step.ROLES


async def add_skip_email(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = draft_of(context)
    await query.answer()
    if draft is None:
        return END
    draft.email = None
    await edit(query, f"{QUESTIONS[Step.EMAIL]}\n\nSkipped: no email.", None)
    await reply(update, QUESTIONS[Step.ROLES], CANCEL)
    return Step.ROLES


async def add_roles(update: Update, context: CallsheetContext) -> int:
    draft = draft_of(context)
    if draft is None:
        return END
    try:
        draft.roles = required_skills(message_text(update))
    except CallsheetError as exc:
        return await ask_again(update, exc, Step.ROLES)
    await reply(
        update,
        render_summary(draft),
        keyboard([button("Save", "save"), button("Cancel", "cancel")]),
    )
    return Step.CONFIRM


async def add_confirm_text(update: Update, context: CallsheetContext) -> int:
    await reply(update, "Tap Save to add them, or Cancel to stop.")
    return Step.CONFIRM


async def add_save(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None
    draft = draft_of(context)
    if draft is None:
        await query.answer("This form is finished. Send /addcrew to start again.", show_alert=True)
        return END
    actor = await current_person(update, context)
    try:
        invite = await context.services.people.add_person(
            name=draft.name,
            phone=draft.phone,
            email=draft.email,
            skills=draft.roles,
            access=draft.access,
            actor=actor,
            chat_id=chat_id(update),
        )
    except CallsheetError as exc:
        # Nothing was saved (a race on the phone, or access taken away): the form ends here.
        await query.answer()
        user_data(context).pop(DRAFT, None)
        await edit(query, f"{render_summary(draft)}\n\n❌ {html.escape(str(exc))}", None)
        return END
    await query.answer("Saved.")
    user_data(context).pop(DRAFT, None)
    await edit(query, render_summary(draft).replace("?", ":", 1) + "\n\n✅ Saved.", None)
    await send_invite(update, context, invite)
    return END


async def cancel(update: Update, context: CallsheetContext) -> int:
    draft = user_data(context).pop(DRAFT, None)
    editing = user_data(context).pop(EDITING, None)
    had = draft is not None or editing is not None
    text = "Cancelled. Nothing was saved." if had else "There is nothing to cancel."
    if update.callback_query is not None:
        await update.callback_query.answer("Cancelled.")
        await edit(update.callback_query, text, None)
    else:
        await reply(update, text)
    return END


# --- editing one field of a person --------------------------------------------------------


async def edit_field_start(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None
    press = parse_press(query)
    field = PersonField(press.more) if press and press.more in set(PersonField) else None
    if press is None or field is None:
        await query.answer("This button is not valid.", show_alert=True)
        return END
    actor = await current_person(update, context)
    try:
        person = await context.services.people.get_person(actor, press.ident)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return END
    await query.answer()
    user_data(context).pop(DRAFT, None)
    user_data(context)[EDITING] = Editing(person.id, field)
    current = {
        PersonField.NAME: person.name,
        PersonField.PHONE: display_phone(person.phone),
        PersonField.EMAIL: person.email or "none",
        PersonField.ROLES: roles_text(person),
    }[field]
    extra = " Send - to remove it." if field is PersonField.EMAIL else ""
    await edit(
        query,
        f"Type the new {FIELD_LABELS[field]} for <b>{html.escape(person.name)}</b> "
        f"(now: {html.escape(current)}).{extra}",
        CANCEL,
    )
    return Step.EDIT_VALUE


async def edit_value(update: Update, context: CallsheetContext) -> int:
    editing = user_data(context).get(EDITING)
    if not isinstance(editing, Editing):
        return END
    assert update.message is not None
    actor = await current_person(update, context)
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
        await refuse(update, exc)
        return END
    except CallsheetError as exc:
        await reply(
            update,
            f"❌ {html.escape(str(exc))}\n\nType the {FIELD_LABELS[editing.field]} again, "
            "or tap Cancel.",
            CANCEL,
        )
        return Step.EDIT_VALUE
    user_data(context).pop(EDITING, None)
    label = FIELD_LABELS[editing.field].capitalize()
    text, markup = render_card(card, context.services.when, f"✅ {label} saved.")
    await reply(update, text, markup)
    return END


# --- /crew, /person and the card's buttons ---------------------------------------------------


async def crew_command(update: Update, context: CallsheetContext) -> None:
    query = argument_text(update)
    if len(f"{AREA}:page:999:{query}".encode()) > CALLBACK_DATA_LIMIT:
        await reply(update, "❌ That filter is too long. Type a role or part of a name.")
        return
    actor = await current_person(update, context)
    try:
        people = await context.services.people.roster(actor, query)
    except CallsheetError as exc:
        await refuse(update, exc)
        return
    text, markup = render_roster(people, " ".join(query.split()), 0)
    await reply(update, text, markup)


async def person_command(update: Update, context: CallsheetContext) -> None:
    typed = argument_text(update)
    actor = await current_person(update, context)
    people = context.services.people
    try:
        if not typed:
            require_manager(actor, "see or change people")
            await reply(
                update,
                "Which person? Send /person 12 (their number in /crew) or /person 0712 345 678.",
            )
            return
        require_manager(actor, "see or change people")
        person = await people.find(typed, among=Among.EVERYONE)

        card = await people.card(actor, person.id)
    except CallsheetError as exc:
        await refuse(update, exc)
        return
    text, markup = render_card(card, context.services.when)
    await reply(update, text, markup)


async def on_press(update: Update, context: CallsheetContext) -> None:
    """Every person-card button, re-authorised from the database by the service it calls."""
    query = update.callback_query
    assert query is not None
    press = parse_press(query)
    handler = PRESSES.get(press.action) if press else None
    if press is None or handler is None:
        await query.answer("This button is no longer active.", show_alert=True)
        return
    actor = await current_person(update, context)
    try:
        answer = await handler(update, context, query, actor, press)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer(answer)


async def press_page(
    update: Update, context: CallsheetContext, query: CallbackQuery, actor: Any, press: Press
) -> str | None:
    people = await context.services.people.roster(actor, press.more)
    text, markup = render_roster(people, press.more, press.ident)
    await edit(query, text, markup)
    return None


async def press_card(
    update: Update, context: CallsheetContext, query: CallbackQuery, actor: Any, press: Press
) -> str | None:
    card = await context.services.people.card(actor, press.ident)
    text, markup = render_card(card, context.services.when)
    if press.action == "back":
        await edit(query, text, markup)
    else:
        await reply(update, text, markup)
    return None


async def press_edit(
    update: Update, context: CallsheetContext, query: CallbackQuery, actor: Any, press: Press
) -> str | None:
    person = await context.services.people.get_person(actor, press.ident)
    access = (
        button("Make crew (not manager)", "access", person.id, Access.CREW.value)
        if person.access is Access.MANAGER
        else button("Make manager", "access", person.id, Access.MANAGER.value)
    )
    await edit(
        query,
        f"What do you want to change for <b>{html.escape(person.name)}</b>?",
        keyboard(
            [
                button("Name", "field", person.id, "name"),
                button("Phone", "field", person.id, "phone"),
            ],
            [
                button("Email", "field", person.id, "email"),
                button("Roles", "field", person.id, "roles"),
            ],
            [access],
            [button("Back", "back", person.id)],
        ),
    )
    return None


async def press_access(
    update: Update, context: CallsheetContext, query: CallbackQuery, actor: Any, press: Press
) -> str | None:
    if press.more not in set(Access):
        return "This button is not valid."
    people = context.services.people
    person = await people.set_access(
        actor, press.ident, Access(press.more), chat_id=chat_id(update)
    )
    await refresh_commands(context, person)
    card = await people.card(actor, person.id)
    now = "a manager" if person.access is Access.MANAGER else "crew (not a manager)"
    text, markup = render_card(
        card, context.services.when, f"✅ {html.escape(person.name)} is now {now}."
    )
    await edit(query, text, markup)
    return "Saved."


async def press_deactivate(
    update: Update, context: CallsheetContext, query: CallbackQuery, actor: Any, press: Press
) -> str | None:
    person = await context.services.people.check_can_deactivate(actor, press.ident)
    await edit(
        query,
        f"Deactivate <b>{html.escape(person.name)}</b>? The bot will treat them as unknown "
        "until a manager reactivates them: their open assignments are cancelled and they get "
        "no more messages. Their history and balance stay.",
        keyboard(
            [button("Yes, deactivate", "deactok", person.id), button("No", "back", person.id)]
        ),
    )
    return None


async def press_set_active(
    update: Update, context: CallsheetContext, query: CallbackQuery, actor: Any, press: Press
) -> str | None:
    people = context.services.people
    if press.action == "react":
        person = await people.set_active(actor, press.ident, True, chat_id=chat_id(update))
        note = f"✅ {html.escape(person.name)} is reactivated."
    else:
        done = await people.deactivate(actor, press.ident, chat_id=chat_id(update))
        person = done.person
        note = render_deactivated(done, context.services.when)
    await refresh_commands(context, person)
    card = await people.card(actor, person.id)
    text, markup = render_card(card, context.services.when, note)
    await edit(query, text, markup)
    state = "reactivated" if person.active else "deactivated"
    return f"{person.name} is {state}."[:200]


def render_deactivated(done: Deactivated, when: Callable[[datetime], str]) -> str:
    name = html.escape(done.person.name)
    if not done.cancelled:
        return f"✅ {name} is deactivated. They had no open assignments."
    count = len(done.cancelled)
    lines = [
        f"✅ {name} is deactivated. Cancelled {count} open "
        f"assignment{'s' if count != 1 else ''} (they get no more messages):"
    ]
    lines += [
        f"• {when(a.starts_at)} · {html.escape(a.event_title)} · "
        f"{html.escape(a.role)} (was {a.status.value})"
        for a in done.cancelled[:10]
    ]
    if count > 10:
        lines.append(f"…and {count - 10} more")
    return "\n".join(lines)


async def press_new_link(
    update: Update, context: CallsheetContext, query: CallbackQuery, actor: Any, press: Press
) -> str | None:
    invite = await context.services.people.new_link(actor, press.ident, chat_id=chat_id(update))
    heading = (
        f"✅ A new link for <b>{html.escape(invite.person.name)}</b>. "
        "Their older unused links no longer work."
    )
    if invite.unlinked:
        heading += " Their Telegram is disconnected until they open this link (they were told)."
    await reply(update, render_invite(invite, context.services.when, heading))
    return "New link made."


PRESSES = {
    "page": press_page,
    "card": press_card,
    "back": press_card,
    "edit": press_edit,
    "access": press_access,
    "deact": press_deactivate,
    "deactok": press_set_active,
    "react": press_set_active,
    "link": press_new_link,
}


def conversation() -> ConversationHandler[CallsheetContext]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # The form belongs to the manager, not to one message: their Skip, Save and Cancel
        # presses count from any message in their chat, which is what per_message=False means.
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        return ConversationHandler(
            entry_points=[
                CommandHandler(["addcrew", "addmanager"], add_start),
                CallbackQueryHandler(edit_field_start, pattern=rf"^{AREA}:field:"),
            ],
            states={
                Step.NAME: [MessageHandler(text, add_name)],
                Step.PHONE: [MessageHandler(text, add_phone)],
                Step.EMAIL: [
                    MessageHandler(text, add_email),
                    CallbackQueryHandler(add_skip_email, pattern=rf"^{AREA}:skip:"),
                ],
                Step.ROLES: [MessageHandler(text, add_roles)],
                Step.CONFIRM: [
                    CallbackQueryHandler(add_save, pattern=rf"^{AREA}:save:"),
                    MessageHandler(text, add_confirm_text),
                ],
                Step.EDIT_VALUE: [MessageHandler(text, edit_value)],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=rf"^{AREA}:cancel:"),
            ],
            allow_reentry=True,
            name="people",
        )


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(conversation())
    application.add_handler(CommandHandler("crew", crew_command))
    application.add_handler(CommandHandler("person", person_command))
    # Also answers stale Skip/Save/Cancel presses from a form that already ended.
    application.add_handler(CallbackQueryHandler(on_press, pattern=rf"^{AREA}:"))
