"""Bot API methods on messages: send, edit, delete, and answering callback queries."""

from __future__ import annotations

import copy

from ._checks import _Checks
from ._params import (
    ANSWER_TEXT_LIMIT,
    CAPTION_LIMIT,
    NOT_MODIFIED,
    QUERY_EXPIRED,
    TEXT_LIMIT,
    Files,
    _param_bool,
    _param_int,
    _param_str,
)
from ._records import JSON, bad_request
from ._state import _Bot, _Chat, _indent, _render_buttons


class _MessageMethods(_Checks):
    """sendMessage, sendDocument, the edits, deleteMessage, answerCallbackQuery."""

    async def _send_message(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        chat = self._chat_to_send(bot, params)
        text, entities = self._formatted(params, "text", "entities", TEXT_LIMIT)
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._throttle(bot, chat)
        message = self._bot_message(bot, chat, {"text": text}, entities, "entities", markup)
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(reply_to)
        keyboard = self._keyboard_note(chat, markup)
        self._say(f"[{self._name(bot)} → {chat.user.first_name}] {self._shown(message)}{keyboard}")
        return copy.deepcopy(message)

    async def _send_document(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        chat = self._chat_to_send(bot, params)
        document = self._document(params, files)
        caption, entities = self._formatted(
            params, "caption", "caption_entities", CAPTION_LIMIT, optional=True
        )
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._throttle(bot, chat)
        content: JSON = {"document": document}
        if caption:
            content["caption"] = caption
        message = self._bot_message(bot, chat, content, entities, "caption_entities", markup)
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(reply_to)
        keyboard = self._keyboard_note(chat, markup)
        self._say(f"[{self._name(bot)} → {chat.user.first_name}] {self._shown(message)}{keyboard}")
        return copy.deepcopy(message)

    async def _edit_message_text(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        chat, message = self._message_to_edit(bot, params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", TEXT_LIMIT)
        markup = self._inline_markup_for_edit(params)
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED)
        self._throttle(bot, chat)
        message["text"] = text
        self._set_optional(message, "entities", entities or None)
        self._set_optional(message, "reply_markup", markup)
        message["edit_date"] = int(self._clock())
        self._say(f"[{self._name(bot)} ✎ {chat.user.first_name}] edited: {self._shown(message)}")
        return copy.deepcopy(message)

    async def _edit_message_reply_markup(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        chat, message = self._message_to_edit(bot, params)
        markup = self._inline_markup_for_edit(params)
        if markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        self._throttle(bot, chat)
        self._set_optional(message, "reply_markup", markup)
        message["edit_date"] = int(self._clock())
        buttons = _render_buttons(message) or "(buttons removed)"
        self._say(f"[{self._name(bot)} ✎ {chat.user.first_name}] buttons: {buttons}")
        return copy.deepcopy(message)

    async def _answer_callback_query(self, bot: _Bot, params: JSON, files: Files) -> bool:
        query_id = _param_str(params, "callback_query_id")
        if not query_id:
            raise bad_request("query ID is not specified")  # nothing to look up
        query = self._queries.get(query_id)
        if query is None or query.answered or query.bot_id != bot.id:
            raise bad_request(QUERY_EXPIRED)
        text = _param_str(params, "text")
        if text is not None and len(text) > ANSWER_TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        answer = {
            "query_id": query_id,
            "text": text,
            "show_alert": _param_bool(params, "show_alert"),
            "url": _param_str(params, "url"),
            "cache_time": _param_int(params, "cache_time") or 0,
            "user": query.user,
            "chat_id": query.chat_id,
            "message_id": query.message_id,
        }
        self.callback_answers.append(answer)
        shown = text or "(no text)"
        if answer["show_alert"]:
            shown = f"alert: {shown}"
        self._say(f"[{self._name(bot)} answered {query.user.first_name}] {shown}")
        return True

    async def _delete_message(self, bot: _Bot, params: JSON, files: Files) -> bool:
        chat = self._known_chat(bot, params)
        message_id = _param_int(params, "message_id", missing="message identifier is not specified")
        message = chat.messages.pop(message_id or 0, None)
        if message is None:
            raise bad_request("message to delete not found")
        first_line = (message.get("text") or message.get("caption") or "").split("\n", 1)[0]
        self._say(
            f"[{self._name(bot)} ✕ {chat.user.first_name}] deleted message {message_id}: "
            f"{first_line}"
        )
        return True

    def _keyboard_note(self, chat: _Chat, markup: JSON | None) -> str:
        if markup is None or "inline_keyboard" in markup:
            return ""
        if "keyboard" in markup:
            chat.reply_keyboard = markup
            buttons = " ".join(f"{{{b['text']}}}" for row in markup["keyboard"] for b in row)
            return f" ⌨ {buttons}"
        if markup.get("remove_keyboard"):
            chat.reply_keyboard = None
            return " ⌨ (keyboard removed)"
        return ""

    def _shown(self, message: JSON) -> str:
        if "document" in message:
            name = message["document"].get("file_name", "document")
            caption = message.get("caption")
            shown = f"📎 {name}" + (f" — {caption}" if caption else "")
        elif "photo" in message:
            size = message["photo"][-1]
            caption = message.get("caption")
            shown = f"🖼 photo {size['width']}×{size['height']}" + (
                f" — {caption}" if caption else ""
            )
        else:
            shown = message.get("text", "")
        buttons = _render_buttons(message)
        return _indent(shown) + (f" {buttons}" if buttons else "")
