"""Parameter checks: each refuses what Telegram refuses, with Telegram's error text."""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import urlsplit

from ._markup import ParseError, parse, strip
from ._params import (
    CALLBACK_DATA_LIMIT,
    COMMAND_SCOPES,
    INLINE_BUTTON_ACTIONS,
    UPLOAD_LIMIT,
    Files,
    _param_bool,
    _param_int,
    _param_json,
    _param_str,
)
from ._records import JSON, ApiError, bad_request
from ._state import DEFAULT_UPDATES, _Bot, _Chat, _State


class _Checks(_State):
    """Checks shared by the Bot API methods; each raises the `ApiError` Telegram would send."""

    def _chat_id(self, params: JSON) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            return int(str(raw))
        except ValueError:
            raise bad_request("chat not found") from None  # @username of a private chat

    def _known_chat(self, bot: _Bot, params: JSON) -> _Chat:
        chat_id = self._chat_id(params)
        person = self._users.get(chat_id)
        if person is None:
            raise bad_request("chat not found")
        return self._chat_with(bot, person)

    def _chat_to_send(self, bot: _Bot, params: JSON) -> _Chat:
        chat = self._known_chat(bot, params)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _message_to_edit(self, bot: _Bot, params: JSON) -> tuple[_Chat, JSON]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # no inline mode in the sandbox
        chat = self._known_chat(bot, params)
        message_id = _param_int(params, "message_id", missing="message identifier is not specified")
        message = chat.messages.get(message_id or 0)
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != bot.id:
            raise bad_request("message can't be edited")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat, message

    def _formatted(
        self,
        params: JSON,
        name: str,
        entities_name: str,
        limit: int,
        *,
        optional: bool = False,
    ) -> tuple[str, list[JSON]]:
        raw = _param_str(params, name) or ""
        parse_mode = _param_str(params, "parse_mode")
        explicit = _param_json(params, entities_name)
        if parse_mode and parse_mode.lower() not in ("html", "markdown", "markdownv2"):
            raise bad_request("unsupported parse_mode")
        try:
            text, entities = parse(raw, parse_mode)
        except ParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        if explicit and not parse_mode:
            if not isinstance(explicit, list):
                raise bad_request(f"can't parse {entities_name} JSON object")
            entities = [dict(e) for e in explicit]
        text, entities = strip(text, entities)
        if not text and not optional:
            raise bad_request("message text is empty")
        if len(text) > limit:
            raise bad_request(
                "message is too long" if name == "text" else "message caption is too long"
            )
        return text, entities

    def _reply_markup(self, params: JSON) -> JSON | None:
        markup = _param_json(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return self._inline_keyboard(markup)
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
                )
            keyboard = []
            for row in rows:
                buttons = []
                for button in row:
                    button = {"text": button} if isinstance(button, str) else button
                    if not isinstance(button, dict) or not button.get("text"):
                        raise bad_request("can't parse keyboard button: Text must be non-empty")
                    buttons.append(dict(button))
                keyboard.append(buttons)
            return {**markup, "keyboard": keyboard}
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _inline_keyboard(self, markup: JSON) -> JSON:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        checked: list[list[JSON]] = []
        for row in rows:
            checked_row = []
            for button in row:
                if not isinstance(button, dict):
                    raise bad_request(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                if not isinstance(button.get("text"), str) or not button["text"]:
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                actions = [name for name in INLINE_BUTTON_ACTIONS if name in button]
                if not actions:
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if len(actions) > 1:
                    raise bad_request(
                        "can't parse inline keyboard button: exactly one of the optional fields "
                        f"must be used, found {', '.join(actions)}"
                    )
                data = button.get("callback_data")
                if "callback_data" in button and (
                    not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
                if "web_app" in button:
                    self._check_web_app(button["web_app"])
                url = button.get("url")
                if "url" in button and (
                    not isinstance(url, str)
                    or urlsplit(url).scheme not in ("http", "https", "tg")
                    or not (urlsplit(url).netloc or url.startswith("tg://"))
                ):
                    raise bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )
                checked_row.append(dict(button))
            checked.append(checked_row)
        return {"inline_keyboard": checked}

    def _check_web_app(self, web_app: object) -> None:
        """A Mini App button (WebAppInfo): Telegram opens only https URLs. (It also refuses
        them outside private chats, BUTTON_TYPE_INVALID; every chat here is private.)"""
        if not isinstance(web_app, dict) or not isinstance(web_app.get("url"), str):
            raise bad_request("can't parse inline keyboard button: WebAppInfo must be an Object")
        parts = urlsplit(web_app["url"])
        if parts.scheme != "https" or not parts.netloc:
            raise bad_request("BUTTON_URL_INVALID")

    def _inline_markup_for_edit(self, params: JSON) -> JSON | None:
        markup = self._reply_markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if markup is not None and not any(markup["inline_keyboard"]):
            return None
        return markup

    def _reply_target(self, chat: _Chat, params: JSON) -> JSON | None:
        reply = _param_json(params, "reply_parameters")
        message_id = _param_int(params, "reply_to_message_id")
        allow_missing = _param_bool(params, "allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = _param_int(reply, "message_id")
            allow_missing = _param_bool(reply, "allow_sending_without_reply")
        if message_id is None:
            return None
        message = chat.messages.get(message_id)
        if message is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return message

    def _document(self, params: JSON, files: Files) -> JSON:
        upload = files.get("document")
        reference = _param_str(params, "document")
        if upload is None and reference and reference.startswith("attach://"):
            upload = files.get(reference.removeprefix("attach://"))
        if upload is not None:
            content = upload.file.read()
            if not content:
                raise bad_request("file must be non-empty")
            if len(content) > UPLOAD_LIMIT:
                raise ApiError(413, "Request Entity Too Large")
            stored = self._store_file(upload.filename, upload.content_type, content)
        elif reference and reference in self.files:
            stored = self.files[reference]
        elif reference and urlsplit(reference).scheme in ("http", "https"):
            name = urlsplit(reference).path.rsplit("/", 1)[-1] or None
            stored = self._store_file(name, None, None)
        elif reference:
            raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise bad_request("there is no document in the request")
        document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        if stored.content is not None:
            document["file_size"] = len(stored.content)
        return document

    def _set_allowed_updates(self, bot: _Bot, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise bad_request("can't parse allowed_updates JSON object")
        bot.allowed_updates_set = allowed or None
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATES

    def _scope_key(self, scope: JSON | None) -> str:
        scope = scope or {"type": "default"}
        fields = COMMAND_SCOPES.get(str(scope.get("type")))
        if fields is None:
            raise bad_request("unsupported bot command scope type specified")
        key: JSON = {"type": scope["type"]}
        for name in fields:
            value = _param_int(scope, name, missing=f"{name} is empty")
            key[name] = value
        return json.dumps(key, sort_keys=True)

    def _commands_key(self, bot: _Bot, params: JSON) -> tuple[str, str]:
        scope = _param_json(params, "scope")
        if scope is not None and not isinstance(scope, dict):
            raise bad_request("can't parse BotCommandScope JSON object")
        if scope and "chat_id" in scope and _param_int(scope, "chat_id") not in self._users:
            raise bad_request("chat not found")
        language = _param_str(params, "language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return self._scope_key(scope), language

    def _menu_button_for(self, bot: _Bot, chat_id: int | None) -> JSON:
        chat = bot.chats.get(chat_id) if chat_id is not None else None
        for button in (chat.menu_button if chat else None, bot.menu_button):
            if button and button.get("type") != "default":
                return copy.deepcopy(button)
        return {"type": "commands"}
