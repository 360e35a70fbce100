"""The people's side, for tests and the demo: acting as people, reading chats, waiting."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from types import EllipsisType
from typing import TypeVar

from ._checks import _Checks
from ._markup import utf16_len
from ._methods_photos import photo_size
from ._params import (
    COMMAND_IN_TEXT,
    TEXT_LIMIT,
)
from ._records import JSON, ButtonNotFound, SandboxError, SandboxUser
from ._state import GARBLED, _buttons, _indent, _Query, _render_buttons

T = TypeVar("T")


class _Driver(_Checks):
    """What a person can do in their chat with a bot, and what a test can read and await."""

    async def send_text(
        self,
        user: SandboxUser,
        text: str,
        *,
        reply_to: int | None = None,
        bot: str | None = None,
    ) -> JSON:
        """The person sends `text` to the bot; returns their message."""
        if not text.strip():
            raise SandboxError("Telegram clients do not send empty messages")
        if len(text) > TEXT_LIMIT:
            raise SandboxError(f"Telegram clients split messages over {TEXT_LIMIT} characters")
        target = self._bot(bot)
        chat = self._person_chat(target, user)
        message = self._user_message(target, chat, {"text": text}, reply_to)
        command = COMMAND_IN_TEXT.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        self._say(f"[{user.first_name} → {self._name(target)}] {_indent(text)}")
        self._enqueue(target, "message", message)
        return copy.deepcopy(message)

    async def send_document(
        self,
        user: SandboxUser,
        file_name: str,
        content: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        bot: str | None = None,
        with_size: bool = True,
    ) -> JSON:
        """The person sends a file; the bot can fetch it with getFile (Telegram may leave out
        its size: `with_size=False`)."""
        if not content:
            raise SandboxError("Telegram clients do not send empty files")
        target = self._bot(bot)
        chat = self._person_chat(target, user)
        stored = self._store_file(file_name, mime_type, content)
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
        }
        if with_size:
            document["file_size"] = len(content)
        if mime_type:
            document["mime_type"] = mime_type
        fields: JSON = {"document": document}
        if caption:
            fields["caption"] = caption
        message = self._user_message(target, chat, fields, None)
        shown = f"file {file_name} ({len(content)} bytes)" + (f" — {caption}" if caption else "")
        self._say(f"[{user.first_name} → {self._name(target)}] {shown}")
        self._enqueue(target, "message", message)
        return copy.deepcopy(message)

    async def send_photo(
        self,
        user: SandboxUser,
        content: bytes,
        *,
        caption: str | None = None,
        bot: str | None = None,
    ) -> JSON:
        """The person sends a photo (kept whole here: Telegram would recompress it)."""
        width, height = photo_size(content)
        target = self._bot(bot)
        chat = self._person_chat(target, user)
        stored = self._store_file(None, "image/jpeg", content)
        photo: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "file_size": len(content),
        }
        fields: JSON = {"photo": [photo]}
        if caption:
            fields["caption"] = caption
        message = self._user_message(target, chat, fields, None)
        shown = f"photo {width}×{height}" + (f" — {caption}" if caption else "")
        self._say(f"[{user.first_name} → {self._name(target)}] {shown}")
        self._enqueue(target, "message", message)
        return copy.deepcopy(message)

    async def share_contact(
        self,
        user: SandboxUser,
        phone_number: str,
        *,
        contact_user_id: int | EllipsisType | None = ...,
        first_name: str | None = None,
        last_name: str | None = None,
        bot: str | None = None,
    ) -> JSON:
        """The person shares a contact; by default their own (`user_id` == their id)."""
        target = self._bot(bot)
        chat = self._person_chat(target, user)
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": first_name or user.first_name,
        }
        if last_name or (first_name is None and user.last_name):
            contact["last_name"] = last_name or user.last_name
        owner = user.id if contact_user_id is ... else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        message = self._user_message(target, chat, {"contact": contact}, None)
        self._say(
            f"[{user.first_name} → {self._name(target)}] shared contact {phone_number} "
            f"({contact['first_name']})"
        )
        self._enqueue(target, "message", message)
        return copy.deepcopy(message)

    async def press(
        self, user: SandboxUser, message_id: int, button: str, *, bot: str | None = None
    ) -> str:
        """The person taps an inline button (its text, a unique part of it, or its data).

        Returns the callback query id.
        """
        target = self._bot(bot)
        chat = target.chats.get(user.id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None:
            raise ButtonNotFound(
                f"there is no message {message_id} in {user.first_name}'s chat with "
                f"{self._name(target)}"
            )
        if chat.blocked:
            raise SandboxError(f"{user.first_name} has blocked the bot; unblock first")
        found = self._find_button(message, button)
        if found is None:
            on_message = _render_buttons(message) or "no buttons"
            raise ButtonNotFound(
                f"no button {button!r} on message {message_id} in {user.first_name}'s chat "
                f"right now (it has: {on_message})"
            )
        if "callback_data" not in found:
            raise SandboxError(
                f"button [{found['text']}] does not send a callback query "
                f"({', '.join(k for k in found if k != 'text')})"
            )
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(query_id, target.id, user, chat.user.id, message_id)
        query = {
            "id": query_id,
            "from": user.to_user(),
            "message": copy.deepcopy(message),
            "chat_instance": self._chat_instance(target, chat),
            "data": found["callback_data"],
        }
        self._say(f"[{user.first_name} pressed] {found['text']}")
        self._enqueue(target, "callback_query", query)
        return query_id

    async def press_forged(
        self, user: SandboxUser, message_id: int, data: str, *, bot: str | None = None
    ) -> str:
        """A modified client sends `data` as if a button on `message_id` carried it.

        Telegram passes any callback_data a client sends (up to 64 bytes) for a message in
        its own chat; bots must not trust it. Returns the callback query id.
        """
        target = self._bot(bot)
        chat = target.chats.get(user.id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None:
            raise ButtonNotFound(
                f"there is no message {message_id} in {user.first_name}'s chat with "
                f"{self._name(target)}"
            )
        if len(data.encode()) > 64:
            raise SandboxError("Telegram clients cannot send callback data over 64 bytes")
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(query_id, target.id, user, chat.user.id, message_id)
        query = {
            "id": query_id,
            "from": user.to_user(),
            "message": copy.deepcopy(message),
            "chat_instance": self._chat_instance(target, chat),
            "data": data,
        }
        self._say(f"[{user.first_name} sent forged callback data] {data}")
        self._enqueue(target, "callback_query", query)
        return query_id

    def block(self, user: SandboxUser, *, bot: str | None = None) -> None:
        self._set_blocked(user, True, bot)

    def unblock(self, user: SandboxUser, *, bot: str | None = None) -> None:
        self._set_blocked(user, False, bot)

    def garble_answers(self, user: SandboxUser, how: str | None = "cut") -> None:
        """A fault between Telegram and the bot: sendMessage to this person is delivered,
        but the answer cannot be parsed. `how`: "cut" (the JSON ends mid-way, as when a
        proxy drops the connection), "not_a_message" (valid JSON whose result lacks the
        message's fields), or None to heal."""
        if how is None:
            self._garbled.pop(user.id, None)
        elif how in GARBLED:
            self._garbled[user.id] = how
        else:
            raise SandboxError(f"unknown way to garble an answer: {how!r}")

    def chat(self, chat_id: int, *, bot: str | None = None) -> list[JSON]:
        """The chat's current messages, both sides, oldest first, edits applied."""
        chat = self._bot(bot).chats.get(chat_id)
        return copy.deepcopy(list(chat.messages.values())) if chat else []

    def bot_messages(self, chat_id: int, *, bot: str | None = None) -> list[JSON]:
        return [m for m in self.chat(chat_id, bot=bot) if m["from"]["is_bot"]]

    def last_bot_message(self, chat_id: int, *, bot: str | None = None) -> JSON | None:
        messages = self.bot_messages(chat_id, bot=bot)
        return messages[-1] if messages else None

    def reply_keyboard(self, chat_id: int, *, bot: str | None = None) -> list[list[JSON]] | None:
        """The reply keyboard the person sees now (None when there is none)."""
        chat = self._bot(bot).chats.get(chat_id)
        if chat is None or chat.reply_keyboard is None:
            return None
        rows: list[list[JSON]] = copy.deepcopy(chat.reply_keyboard["keyboard"])
        return rows

    def commands(
        self,
        scope: JSON | str | None = None,
        language_code: str = "",
        *,
        bot: str | None = None,
    ) -> list[JSON]:
        """What setMyCommands stored for exactly this scope and language."""
        scope_json = {"type": scope} if isinstance(scope, str) else scope
        key = (self._scope_key(scope_json), language_code)
        return copy.deepcopy(self._bot(bot).commands.get(key, []))

    def commands_for(
        self, user: SandboxUser, language_code: str | None = None, *, bot: str | None = None
    ) -> list[JSON]:
        """The command menu this person sees in their private chat with the bot."""
        target = self._bot(bot)
        language = language_code if language_code is not None else user.language_code or ""
        scopes: list[JSON | None] = [
            {"type": "chat", "chat_id": user.id},
            {"type": "all_private_chats"},
            None,
        ]
        for scope in scopes:
            for lang in dict.fromkeys([language, ""]):
                stored = target.commands.get((self._scope_key(scope), lang))
                if stored:
                    return copy.deepcopy(stored)
        return []

    def menu_button(self, chat_id: int | None = None, *, bot: str | None = None) -> JSON:
        return self._menu_button_for(self._bot(bot), chat_id)

    @property
    def waiting_polls(self) -> int:
        """getUpdates calls waiting for an update right now (the bot is listening)."""
        return self._waiting_polls

    def transcript(self) -> list[str]:
        """What happened, one entry per event, as `callsheet demo` prints it."""
        return list(self._transcript)

    async def wait_for(
        self,
        predicate: Callable[[], T | bool | None],
        timeout: float = 5.0,
        *,
        description: str | None = None,
    ) -> T:
        """Wait until `predicate()` is truthy (re-checked on every change); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result  # type: ignore[return-value]  # T, or True from a bool predicate
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(description or repr(predicate), timeout))
            await self._changes.wait(remaining)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        contains: str | None = None,
        *,
        after: int | None = None,
        message_id: int | None = None,
        timeout: float = 5.0,
        bot: str | None = None,
    ) -> JSON:
        """The newest bot message (sent or edited) in the chat that contains `contains`.

        `after`: only messages with a greater id; `message_id`: only that message.
        """

        def matching() -> JSON | None:
            for message in reversed(self.bot_messages(chat_id, bot=bot)):
                if after is not None and message["message_id"] <= after:
                    continue
                if message_id is not None and message["message_id"] != message_id:
                    continue
                shown = message.get("text") or message.get("caption") or ""
                if contains is None or contains in shown:
                    return message
            return None

        wanted = f"a bot message in chat {chat_id}"
        if contains is not None:
            wanted += f" containing {contains!r}"
        if after is not None:
            wanted += f" after message {after}"
        if message_id is not None:
            wanted += f" (message {message_id})"
        return await self.wait_for(matching, timeout, description=wanted)

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,
    ) -> JSON:
        def answered() -> JSON | None:
            for answer in self.callback_answers:
                if answer["query_id"] == query_id:
                    return answer
            return None

        return await self.wait_for(
            answered, timeout, description=f"an answer to callback query {query_id}"
        )

    def _find_button(self, message: JSON, wanted: str) -> JSON | None:
        buttons = _buttons(message)
        for candidates in (
            [b for b in buttons if b["text"] == wanted],
            [b for b in buttons if b.get("callback_data") == wanted],
            [b for b in buttons if wanted in b["text"]],
        ):
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                raise ButtonNotFound(
                    f"{wanted!r} matches several buttons: "
                    + " ".join(f"[{b['text']}]" for b in candidates)
                )
        return None

    def _set_blocked(self, user: SandboxUser, blocked: bool, bot_name: str | None) -> None:
        bot = self._bot(bot_name)
        self._users.setdefault(user.id, user)
        chat = self._chat_with(bot, user)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        bot_member = {"user": bot.to_user(), "status": "member"}
        kicked = {"user": bot.to_user(), "status": "kicked", "until_date": 0}
        update = {
            "chat": user.to_chat(),
            "from": user.to_user(),
            "date": int(self._clock()),
            "old_chat_member": bot_member if blocked else kicked,
            "new_chat_member": kicked if blocked else bot_member,
        }
        verb = "blocked" if blocked else "unblocked"
        self._say(f"[{user.first_name} {verb} the bot]")
        self._enqueue(bot, "my_chat_member", update)

    def _timeout_report(self, wanted: str, timeout: float) -> str:
        lines = [f"timed out after {timeout:g}s waiting for {wanted}"]
        for bot in self._bots.values():
            lines.append(
                f"@{bot.username}: {len(bot.updates)} update(s) not yet taken by the bot, "
                f"webhook {'set' if bot.webhook else 'not set'}"
            )
        recent = self._transcript[-15:]
        lines.append("recent transcript:" if recent else "transcript is empty")
        lines.extend(f"  {line}" for line in recent)
        failures = [r for r in self.requests[-10:] if not r.ok]
        lines.extend(f"  refused {r.method}: {r.description}" for r in failures)
        return "\n".join(lines)
