"""The Telegram sandbox, driven by a real PTB `Bot` over HTTP, as our bot will drive it."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    MenuButtonCommands,
    MenuButtonWebApp,
    ReplyKeyboardMarkup,
    Update,
    WebAppInfo,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from sandbox.telegram import ButtonNotFound, SandboxUser, TelegramSandbox

TOKEN = "123456:AAH-sandbox-token"
INVITE = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("✅ Confirm", callback_data="inv:7:yes"),
            InlineKeyboardButton("❌ Decline", callback_data="inv:7:no"),
        ]
    ]
)


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox() as sandbox:
        sandbox.add_bot(TOKEN, "callsheet_bot")
        yield sandbox


@pytest.fixture
async def bot(tg: TelegramSandbox) -> AsyncIterator[Bot]:
    ptb_bot = Bot(TOKEN, base_url=tg.base_url)
    await ptb_bot.initialize()
    yield ptb_bot
    await ptb_bot.shutdown()


@pytest.fixture
def jane(tg: TelegramSandbox) -> SandboxUser:
    return tg.user(1001, "Jane", "Wanjiku", username="jane_w", phone="+254712345678")


@pytest.fixture
async def started(tg: TelegramSandbox, jane: SandboxUser) -> SandboxUser:
    await tg.send_text(jane, "/start")
    return jane


async def post_raw(
    tg: TelegramSandbox, token: str, method: str, **kwargs: object
) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{tg.base_url}{token}/{method}", **kwargs) as response,  # type: ignore[arg-type]
    ):
        body: dict[str, Any] = await response.json()
        assert body.get("error_code", 200) == response.status
        return body


# --- bot identity and request decoding ------------------------------------------------


async def test_get_me_answers_with_the_registered_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        123456,
        "callsheet_bot",
        "Callsheet",
        True,
    )


async def test_unknown_token_is_unauthorized(tg: TelegramSandbox) -> None:
    stranger = Bot("999:not-ours", base_url=tg.base_url)
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    await stranger.shutdown()
    body = await post_raw(tg, "999:not-ours", "getMe")
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_json_body_and_query_string_are_accepted(
    tg: TelegramSandbox, started: SandboxUser
) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    body = await post_raw(
        tg, TOKEN, "sendMessage", json={"chat_id": started.id, "text": "hi", "reply_markup": markup}
    )
    assert body["ok"] and body["result"]["reply_markup"] == markup
    body = await post_raw(tg, TOKEN, "sendMessage", params={"chat_id": started.id, "text": "q"})
    assert body["result"]["text"] == "q"
    body = await post_raw(tg, TOKEN, "noSuchMethod")
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_close_and_log_out_are_accepted(bot: Bot) -> None:
    assert await bot.close() is True
    assert await bot.log_out() is True


# --- people and messages -------------------------------------------------------------


async def test_send_message_with_html_reaches_the_chat(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(
        started.id, "Hello <b>Jane</b> &amp; crew", parse_mode=ParseMode.HTML, reply_markup=INVITE
    )
    assert sent.message_id == 2  # /start was 1
    assert sent.text == "Hello Jane & crew"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 6, 4)]
    assert sent.chat.type == "private" and sent.chat.first_name == "Jane"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert isinstance(sent.date, dtm.datetime)
    assert [m["text"] for m in tg.chat(started.id)] == ["/start", "Hello Jane & crew"]
    assert tg.last_bot_message(started.id)["reply_markup"] == INVITE.to_dict()  # type: ignore[index]


async def test_user_command_carries_a_bot_command_entity(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    sent = await tg.send_text(jane, "/start@callsheet_bot tok123")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 20}]
    assert sent["from"] == {
        "id": 1001,
        "is_bot": False,
        "first_name": "Jane",
        "last_name": "Wanjiku",
        "username": "jane_w",
    }
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.text == "/start@callsheet_bot tok123"
    assert update.message.entities[0].type == "bot_command"
    plain = await tg.send_text(jane, "hello /start")
    assert "entities" not in plain


async def test_message_to_someone_who_never_wrote_is_forbidden(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(jane.id, "Hi")
    assert tg.requests[-1].description == "Forbidden: bot can't initiate conversation with a user"
    assert tg.chat(jane.id) == []


async def test_message_to_someone_who_blocked_the_bot_is_forbidden(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    tg.block(started)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(started.id, "Reminder")
    updates = await bot.get_updates()
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    tg.unblock(started)
    await bot.send_message(started.id, "Welcome back")
    assert "[Jane blocked the bot]" in tg.transcript()


async def test_message_to_unknown_chat_is_not_found(tg: TelegramSandbox, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "Hi")
    assert tg.requests[-1].description == "Bad Request: chat not found"
    assert tg.requests[-1].status == 400


async def test_text_length_limits_count_visible_text(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(started.id, "  <b> </b> ", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(started.id, "x" * 4097)
    sent = await bot.send_message(started.id, f"<b>{'x' * 4096}</b>", parse_mode=ParseMode.HTML)
    assert sent.text is not None and len(sent.text) == 4096
    descriptions = [r.description for r in tg.requests if not r.ok]
    assert descriptions == [
        "Bad Request: message text is empty",
        "Bad Request: message is too long",
    ]


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<div>hi</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>hi", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>hi</b></i>", 'Unmatched end tag at byte offset 8, expected "</i>", found "</b>"'),
        ("hi</b>", "Unexpected end tag at byte offset 2"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'Character "&" at byte offset 4 is not the start of an HTML entity'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_bad_html_is_refused(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser, html: str, reason: str
) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(started.id, html, parse_mode=ParseMode.HTML)
    description = tg.requests[-1].description
    assert description is not None
    assert description.startswith(f"Bad Request: can't parse entities: {reason}")


async def test_every_telegram_html_tag_is_accepted(bot: Bot, started: SandboxUser) -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        '<strike>k</strike><del>d</del><span class="tg-spoiler">p</span><tg-spoiler>t</tg-spoiler>'
        '<a href="https://example.com/?a=1&amp;b=2">link</a><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre><blockquote expandable>q</blockquote>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> &lt;&gt;&quot;&#65;&#x42;'
    )
    sent = await bot.send_message(started.id, html, parse_mode=ParseMode.HTML)
    assert sent.text is not None and sent.text.endswith('👍 <>"AB')
    kinds = {e.type for e in sent.entities}
    assert {"bold", "italic", "underline", "strikethrough", "spoiler", "text_link"} <= kinds
    assert {"code", "pre", "expandable_blockquote", "custom_emoji"} <= kinds
    link = next(e for e in sent.entities if e.type == "text_link")
    assert link.url == "https://example.com/?a=1&b=2"
    pre = next(e for e in sent.entities if e.type == "pre")
    assert pre.language == "python"


async def test_markdown_v2_reserved_characters_must_be_escaped(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(
            started.id, "Call time 15:00. Bring *cables*!", parse_mode="MarkdownV2"
        )
    assert tg.requests[-1].description == (
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
        "with the preceding '\\'"
    )
    sent = await bot.send_message(
        started.id, r"Call time 15:00\. Bring *cables*\!", parse_mode="MarkdownV2"
    )
    assert sent.text == "Call time 15:00. Bring cables!"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 23, 6)]


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, started: SandboxUser) -> None:
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="é" * 32)]])
    await bot.send_message(started.id, "fits", reply_markup=fits)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(started.id, "too long", reply_markup=too_long)


async def test_inline_button_needs_exactly_one_action(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(
            started.id, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("bare")]])
        )
    both = InlineKeyboardButton("both", url="https://example.com", callback_data="x")
    with pytest.raises(BadRequest, match="exactly one of the optional fields"):
        await bot.send_message(started.id, "x", reply_markup=InlineKeyboardMarkup([[both]]))
    assert tg.bot_messages(started.id) == []


async def test_reply_keyboard_is_shown_to_the_person(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Share my phone number", request_contact=True)]], one_time_keyboard=True
    )
    sent = await bot.send_message(started.id, "Who are you?", reply_markup=keyboard)
    assert sent.reply_markup is None  # only inline keyboards are part of a Message
    assert tg.reply_keyboard(started.id) == [
        [{"text": "Share my phone number", "request_contact": True}]
    ]
    assert tg.transcript()[-1] == "[bot → Jane] Who are you? ⌨ {Share my phone number}"


async def test_shared_contact_reaches_the_bot(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    await tg.share_contact(jane, "+254712345678")
    await tg.share_contact(jane, "+254700000000", contact_user_id=2002, first_name="Other")
    own, other = [u.message.contact for u in await bot.get_updates() if u.message]
    assert own is not None and other is not None
    assert (own.phone_number, own.user_id, own.first_name) == ("+254712345678", 1001, "Jane")
    assert (other.user_id, other.first_name) == (2002, "Other")
    await bot.send_message(jane.id, "Thanks")  # sharing started the conversation


# --- buttons, edits, callback answers -------------------------------------------------


async def test_press_creates_a_callback_query(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    query_id = await tg.press(started, sent.message_id, "Confirm")
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None
    assert (query.id, query.data, query.from_user.id) == (query_id, "inv:7:yes", started.id)
    assert query.message is not None and query.message.message_id == sent.message_id
    second = await tg.press(started, sent.message_id, "inv:7:no")
    again = (await bot.get_updates(offset=updates[-1].update_id + 1))[0].callback_query
    assert again is not None and again.id == second
    assert again.chat_instance == query.chat_instance


async def test_press_refused_for_a_button_not_on_the_message(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    with pytest.raises(ButtonNotFound, match=r"no button 'Maybe'.*\[✅ Confirm\] \[❌ Decline\]"):
        await tg.press(started, sent.message_id, "Maybe")
    with pytest.raises(ButtonNotFound, match="several buttons"):
        await tg.press(started, sent.message_id, "i")
    with pytest.raises(ButtonNotFound, match="no message 99"):
        await tg.press(started, 99, "Confirm")
    other = tg.user(1002, "Otieno")
    with pytest.raises(ButtonNotFound):
        await tg.press(other, sent.message_id, "Confirm")
    await bot.edit_message_text("Confirmed", chat_id=started.id, message_id=sent.message_id)
    with pytest.raises(ButtonNotFound):
        await tg.press(started, sent.message_id, "Confirm")


async def test_edit_without_markup_removes_the_keyboard(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    edited = await bot.edit_message_text(
        "You confirmed ✅", chat_id=started.id, message_id=sent.message_id
    )
    assert not isinstance(edited, bool)
    assert edited.text == "You confirmed ✅"
    assert edited.reply_markup is None and edited.edit_date is not None
    shown = tg.last_bot_message(started.id)
    assert shown is not None and "reply_markup" not in shown and shown["edit_date"] >= shown["date"]


async def test_edit_with_the_same_content_is_not_modified(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "Invitation", chat_id=started.id, message_id=sent.message_id, reply_markup=INVITE
        )
    assert tg.requests[-1].description == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=started.id, message_id=999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", chat_id=started.id, message_id=1)  # Jane's /start


async def test_edit_reply_markup(tg: TelegramSandbox, bot: Bot, started: SandboxUser) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    change = InlineKeyboardMarkup([[InlineKeyboardButton("Change my answer", callback_data="c")]])
    edited = await bot.edit_message_reply_markup(
        chat_id=started.id, message_id=sent.message_id, reply_markup=change
    )
    assert not isinstance(edited, bool) and edited.reply_markup == change
    await bot.edit_message_reply_markup(chat_id=started.id, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(chat_id=started.id, message_id=sent.message_id)
    assert tg.transcript()[-2:] == [
        "[bot ✎ Jane] buttons: [Change my answer]",
        "[bot ✎ Jane] buttons: (buttons removed)",
    ]


async def test_answer_callback_query_once(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    query_id = await tg.press(started, sent.message_id, "Decline")
    assert await bot.answer_callback_query(query_id, text="Noted", show_alert=True)
    answer = await tg.wait_for_callback_answer(query_id)
    assert (answer["text"], answer["show_alert"], answer["user"]) == ("Noted", True, started)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")
    assert tg.requests[-1].description == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )


async def test_delete_message(tg: TelegramSandbox, bot: Bot, started: SandboxUser) -> None:
    sent = await bot.send_message(started.id, "Temporary")
    assert await bot.delete_message(started.id, sent.message_id)
    assert [m["text"] for m in tg.chat(started.id)] == ["/start"]
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(started.id, sent.message_id)
    nxt = await bot.send_message(started.id, "Next")
    assert nxt.message_id == sent.message_id + 1  # ids are never reused


# --- documents, commands, menu, chat ----------------------------------------------


async def test_send_document_upload(tg: TelegramSandbox, bot: Bot, started: SandboxUser) -> None:
    payload = b"%PDF-1.4 call sheet"
    sent = await bot.send_document(
        started.id,
        InputFile(payload, filename="callsheet.pdf"),
        caption="Tonight's <b>call sheet</b>",
        parse_mode=ParseMode.HTML,
    )
    assert sent.document is not None
    assert (sent.document.file_name, sent.document.file_size) == ("callsheet.pdf", len(payload))
    assert sent.caption == "Tonight's call sheet"
    assert tg.files[sent.document.file_id].content == payload
    again = await bot.send_document(started.id, sent.document.file_id)
    assert again.document is not None and again.document.file_id == sent.document.file_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(started.id, "no-such-file")
    assert tg.transcript()[-2] == "[bot → Jane] 📎 callsheet.pdf — Tonight's call sheet"


async def test_commands_are_stored_per_scope_and_language(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    crew = [BotCommand("my", "My assignments"), BotCommand("help", "What I can do")]
    manager = [BotCommand("events", "Upcoming events"), *crew]
    assert await bot.set_my_commands(crew, scope=BotCommandScopeAllPrivateChats())
    assert await bot.set_my_commands(manager, scope=BotCommandScopeChat(started.id))
    await bot.set_my_commands([BotCommand("hilfe", "Hilfe")], language_code="de")
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == tuple(crew)
    assert await bot.get_my_commands() == ()
    assert [c["command"] for c in tg.commands({"type": "chat", "chat_id": started.id})] == [
        "events",
        "my",
        "help",
    ]
    assert [c["command"] for c in tg.commands("default", "de")] == ["hilfe"]
    other = tg.user(1002, "Otieno")
    assert [c["command"] for c in tg.commands_for(other)] == ["my", "help"]
    assert next(c["command"] for c in tg.commands_for(started)) == "events"
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(started.id))
    assert tg.commands_for(started) == tg.commands_for(other)
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_chat_menu_button(tg: TelegramSandbox, bot: Bot, started: SandboxUser) -> None:
    assert await bot.get_chat_menu_button() == MenuButtonCommands()
    app = MenuButtonWebApp("Open", WebAppInfo("https://example.com/app"))
    assert await bot.set_chat_menu_button(chat_id=started.id, menu_button=app)
    assert await bot.get_chat_menu_button(chat_id=started.id) == app
    assert tg.menu_button(started.id)["type"] == "web_app"
    assert await bot.get_chat_menu_button() == MenuButtonCommands()


async def test_get_chat(bot: Bot, started: SandboxUser) -> None:
    chat = await bot.get_chat(started.id)
    assert (chat.id, chat.type, chat.first_name, chat.username) == (
        1001,
        "private",
        "Jane",
        "jane_w",
    )
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(777)


# --- rate limits -------------------------------------------------------------------


async def test_burst_to_one_chat_gets_429_with_retry_after(
    monkeypatch: pytest.MonkeyPatch, jane: SandboxUser
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when reading int retry_after
    async with TelegramSandbox(chat_rate=0.1, chat_burst=3) as tg:
        tg.add_bot(TOKEN, "callsheet_bot")
        await tg.send_text(jane, "/start")
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            for n in range(3):
                await bot.send_message(jane.id, f"message {n}")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(jane.id, "one too many")
        assert refused.value.retry_after == dtm.timedelta(seconds=10)
        assert tg.stats.too_many_requests == 1
        last = tg.requests[-1]
        assert (last.status, last.description, last.retry_after) == (
            429,
            "Too Many Requests: retry after 10",
            10,
        )
        assert len(tg.bot_messages(jane.id)) == 3


async def test_overall_rate_limits_across_chats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with TelegramSandbox(overall_rate=2) as tg:
        tg.add_bot(TOKEN, "callsheet_bot")
        people = [tg.user(2000 + n, f"Crew {n}") for n in range(3)]
        for person in people:
            await tg.send_text(person, "/start")
        async with Bot(TOKEN, base_url=tg.base_url) as bot:
            await bot.send_message(people[0].id, "a")
            await bot.send_message(people[1].id, "b")
            with pytest.raises(RetryAfter):
                await bot.send_message(people[2].id, "c")
        assert tg.stats.too_many_requests == 1
        assert tg.requests[-1].retry_after == 1


# --- getUpdates and webhooks ---------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for(lambda: tg.waiting_polls == 1, description="the bot's long poll")
    await tg.send_text(jane, "/start")
    (update,) = await asyncio.wait_for(poll, 5)
    assert update.message is not None and update.message.text == "/start"
    # offset confirms: the same update is not delivered again
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("", 0)


async def test_unconfirmed_updates_are_delivered_again(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    await tg.send_text(jane, "one")
    await tg.send_text(jane, "two")
    first = await bot.get_updates(limit=1)
    assert [u.message.text for u in first if u.message] == ["one"]
    both = await bot.get_updates()
    assert [u.update_id for u in both] == [first[0].update_id, first[0].update_id + 1]


async def test_allowed_updates_are_honoured(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    await bot.get_updates(offset=-1, allowed_updates=["callback_query"])
    await bot.get_updates(offset=(await bot.get_updates())[-1].update_id + 1)
    await tg.send_text(started, "ignored by the bot's choice")
    await tg.press(started, sent.message_id, "Confirm")
    updates = await bot.get_updates()
    assert [u.callback_query is not None for u in updates] == [True]


async def test_get_updates_conflicts_with_a_webhook(bot: Bot) -> None:
    assert await bot.set_webhook("http://127.0.0.1:9/telegram")
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_webhook_must_be_https_unless_local(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)an https url must be provided"):
        await bot.set_webhook("http://example.com/hook")
    with pytest.raises(BadRequest, match="Secret token contains unallowed characters"):
        await bot.set_webhook("https://example.com/hook", secret_token="no spaces")


class Receiver:
    """A webhook endpoint that fails the first `failures` deliveries with a 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[tuple[str | None, dict[str, Any]]] = []
        self.accepted: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.attempts.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update))
        if len(self.attempts) <= self.failures:
            return web.Response(status=500)
        self.accepted.append(update)
        return web.Response(text="ok")


@pytest.fixture
async def receiver_url() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver(failures=1)
    app = web.Application()
    app.router.add_post("/telegram", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield receiver, f"http://127.0.0.1:{port}/telegram"
    await runner.cleanup()


async def test_webhook_push_with_secret_and_retry(
    tg: TelegramSandbox,
    bot: Bot,
    jane: SandboxUser,
    receiver_url: tuple[Receiver, str],
) -> None:
    receiver, url = receiver_url
    assert await bot.set_webhook(url, secret_token="s3cr3t-Token_1")
    for text in ("/start", "first", "second"):
        await tg.send_text(jane, text)
    await tg.wait_for(lambda: len(receiver.accepted) == 3, description="three webhook deliveries")
    assert [u["message"]["text"] for u in receiver.accepted] == ["/start", "first", "second"]
    assert receiver.attempts[0][1] == receiver.attempts[1][1]  # the 500 was retried
    assert {secret for secret, _ in receiver.attempts} == {"s3cr3t-Token_1"}
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (url, 0)
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.last_error_date is not None
    assert tg.stats.webhook_failures == 1 and tg.stats.webhook_deliveries == 3


async def test_webhook_down_keeps_updates_pending(tg: TelegramSandbox, jane: SandboxUser) -> None:
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        await bot.set_webhook("http://127.0.0.1:9/telegram", drop_pending_updates=True)
        await tg.send_text(jane, "/start")
        await tg.wait_for(lambda: tg.stats.webhook_failures >= 1, description="a failed push")
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1
        assert info.last_error_message == "Connection refused"
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_stop_leaves_no_tasks_behind(jane: SandboxUser) -> None:
    tg = TelegramSandbox()
    tg.add_bot(TOKEN, "callsheet_bot")
    await tg.start()
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        await bot.set_webhook("http://127.0.0.1:9/telegram")
    await tg.send_text(jane, "/start")
    await tg.stop()
    assert asyncio.all_tasks() == {asyncio.current_task()}


# --- several bots, waiting, transcript ------------------------------------------------


async def test_each_bot_has_its_own_chats_and_updates(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    tg.add_bot("777:other-token", "other_bot", first_name="Other")
    async with Bot("777:other-token", base_url=tg.base_url) as other:
        await tg.send_text(jane, "/start", bot="other_bot")
        with pytest.raises(Forbidden):
            await bot.send_message(jane.id, "not started with this bot")
        sent = await other.send_message(jane.id, "hi from other")
        assert sent.message_id == 2
        assert await bot.get_updates() == ()
        assert len(await other.get_updates()) == 1
    assert tg.chat(jane.id) == []
    assert [m["text"] for m in tg.chat(jane.id, bot="other_bot")] == ["/start", "hi from other"]


async def test_wait_for_bot_message_sees_sends_and_edits(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    sent = await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    waiting = asyncio.create_task(
        tg.wait_for_bot_message(started.id, contains="confirmed", message_id=sent.message_id)
    )
    newer = asyncio.create_task(tg.wait_for_bot_message(started.id, after=sent.message_id))
    await bot.edit_message_text("You confirmed", chat_id=started.id, message_id=sent.message_id)
    assert (await waiting)["text"] == "You confirmed"
    await bot.send_message(started.id, "Thanks")
    assert (await newer)["text"] == "Thanks"


async def test_wait_for_timeout_describes_the_chats(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    await bot.send_message(started.id, "Hello")
    with pytest.raises(TimeoutError) as timed_out:
        await tg.wait_for_bot_message(started.id, contains="Goodbye", timeout=0.05)
    report = str(timed_out.value)
    assert "waiting for a bot message in chat 1001 containing 'Goodbye'" in report
    assert "[bot → Jane] Hello" in report


async def test_transcript_reads_like_the_conversation(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    await tg.send_text(jane, "/start")
    sent = await bot.send_message(
        jane.id,
        "Welcome to <b>Callsheet</b>\nTonight: KICC",
        parse_mode="HTML",
        reply_markup=INVITE,
    )
    query_id = await tg.press(jane, sent.message_id, "Confirm")
    await bot.answer_callback_query(query_id, text="See you at 15:00")
    await bot.edit_message_text("You confirmed ✅", chat_id=jane.id, message_id=sent.message_id)
    assert tg.transcript() == [
        "[Jane → bot] /start",
        "[bot → Jane] Welcome to Callsheet\n    Tonight: KICC [✅ Confirm] [❌ Decline]",
        "[Jane pressed] ✅ Confirm",
        "[bot answered Jane] See you at 15:00",
        "[bot ✎ Jane] edited: You confirmed ✅",
    ]


async def test_request_log_decodes_json_parameters(
    tg: TelegramSandbox, bot: Bot, started: SandboxUser
) -> None:
    await bot.send_message(started.id, "Invitation", reply_markup=INVITE)
    record = tg.requests[-1]
    assert (record.method, record.status, record.bot) == ("sendMessage", 200, "callsheet_bot")
    assert record.params["reply_markup"] == json.loads(INVITE.to_json())
    assert all(TOKEN not in repr(r) for r in tg.requests)


# --- a whole PTB Application, as the bot runs it --------------------------------------


async def test_ptb_application_polls_and_answers_buttons(
    tg: TelegramSandbox, jane: SandboxUser
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Invitation: KICC", reply_markup=INVITE)

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Thanks!")
        await query.edit_message_text(f"You chose {query.data}")

    application = Application.builder().token(TOKEN).base_url(tg.base_url).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(answer))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        await tg.send_text(jane, "/start")
        invitation = await tg.wait_for_bot_message(jane.id, contains="Invitation")
        query_id = await tg.press(jane, invitation["message_id"], "Confirm")
        await tg.wait_for_callback_answer(query_id)
        await tg.wait_for_bot_message(
            jane.id, contains="You chose inv:7:yes", message_id=invitation["message_id"]
        )
        await application.updater.stop()
        await application.stop()
    assert tg.transcript()[-1] == "[bot ✎ Jane] edited: You chose inv:7:yes"
    assert [r.status for r in tg.requests if r.method != "getUpdates"] == [200] * 5


async def test_markdown_v2_quotes_and_formatting(bot: Bot, started: SandboxUser) -> None:
    text = "*Call* _time_ __15:00__\n>Bring cables\n>and tape\n[map](https://maps.example/kicc)"
    sent = await bot.send_message(started.id, text, parse_mode="MarkdownV2")
    assert sent.text == "Call time 15:00\nBring cables\nand tape\nmap"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 4),
        ("italic", 5, 4),
        ("underline", 10, 5),
        ("blockquote", 16, 21),
        ("text_link", 38, 3),
    ]


async def test_a_newer_long_poll_terminates_the_older_one(tg: TelegramSandbox, bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for(lambda: tg.waiting_polls == 1, description="the first long poll")
    async with Bot(TOKEN, base_url=tg.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await older


async def test_stop_ends_a_waiting_long_poll(tg: TelegramSandbox, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for(lambda: tg.waiting_polls == 1, description="the long poll")
    await tg.stop()
    assert await asyncio.wait_for(poll, 5) == ()
