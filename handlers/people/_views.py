"""What the people modules share: the form's state, the roster and card as messages, and
answering without link previews (invite links would unfurl)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from markupsafe import Markup
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

from bot.context import CallsheetContext
from handlers.common import set_commands_for
from handlers.shared import render
from models import Access, Person
from services.buttons import CallbackData
from services.buttons.emails import ShowHistory
from services.buttons.people import (
    AskDeactivate,
    CancelForm,
    EditPerson,
    NewLink,
    OpenCard,
    Reactivate,
    RosterPage,
)
from services.people import PersonCard, PersonField

log = logging.getLogger(__name__)

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


FIELD_LABELS = {
    PersonField.NAME: "name",
    PersonField.PHONE: "phone number",
    PersonField.EMAIL: "email address",
    PersonField.ROLES: "roles",
}


class Render(Protocol):
    """`render` with the context bound: a template name and its values, to Telegram HTML."""

    def __call__(self, template: str, /, **values: Any) -> str: ...


def renderer(context: CallsheetContext) -> Render:
    def bound(template: str, /, **values: Any) -> str:
        return render(context, template, **values)

    return bound


def button(text: str, press: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=press.pack())


def keyboard(*rows: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([row for row in rows if row])


def cancel_keyboard() -> InlineKeyboardMarkup:
    return keyboard([button("Cancel", CancelForm())])


# --- the roster and the card ----------------------------------------------------------------


def paginate(
    lines: Sequence[str], per_page: int = PAGE_PEOPLE, chars: int = PAGE_CHARS
) -> list[range]:
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
    render: Render, people: list[Person], query: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    if not people:
        return render("people/roster", count=0, query=query), None
    lines = [Markup(render("people/roster_line", person=p)) for p in people]
    pages = paginate(lines)
    page = min(max(page, 0), len(pages) - 1)
    shown = pages[page]
    text = render(
        "people/roster",
        count=len(people),
        query=query,
        page=page,
        pages=len(pages),
        lines=[lines[i] for i in shown],
    )
    names = [button(people[i].name[:40], OpenCard(people[i].id)) for i in shown]
    rows = [names[i : i + 2] for i in range(0, len(names), 2)]
    nav = []
    if page > 0:
        nav.append(button("« Prev", RosterPage(page - 1, query)))
    if page < len(pages) - 1:
        nav.append(button("Next »", RosterPage(page + 1, query)))
    return text, keyboard(*rows, nav)


def render_card(
    render: Render, card: PersonCard, note: str = ""
) -> tuple[str, InlineKeyboardMarkup]:
    """The card, and above it `note`: a rendered `people/card_note`."""
    person = card.person
    text = render("people/card", card=card, note=Markup(note))
    if person.active:
        markup = keyboard(
            [button("Edit", EditPerson(person.id)), button("Deactivate", AskDeactivate(person.id))],
            [
                button("New link", NewLink(person.id)),
                # The communication history lives with the outbox (handlers/emails.py).
                button("Messages", ShowHistory(person.id)),
            ],
        )
    else:
        markup = keyboard(
            [button("Edit", EditPerson(person.id)), button("Reactivate", Reactivate(person.id))]
        )
    return text, markup


# --- answering ------------------------------------------------------------------------------


def user_data(context: CallsheetContext) -> dict[Any, Any]:
    assert context.user_data is not None  # private chats always have a user
    return context.user_data


def message_text(update: Update) -> str:
    return (update.message.text if update.message else None) or ""


async def answer(
    update: Update,
    context: CallsheetContext,
    template: str,
    markup: InlineKeyboardMarkup | None = None,
    **values: Any,
) -> None:
    """A reply rendered from `templates/replies/<template>.j2`, without a link preview."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        render(context, template, **values),
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        link_preview_options=NO_PREVIEW,
    )


async def send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """A reply already rendered (the roster, a card)."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
    )


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
