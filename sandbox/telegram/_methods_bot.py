"""Bot API methods about the bot itself: getMe, getUpdates, commands, the menu button, chats."""

from __future__ import annotations

import asyncio
import copy

from ._checks import _Checks
from ._params import (
    COMMAND_NAME,
    DOWNLOAD_LIMIT,
    POLL_CONFLICT,
    WEBHOOK_CONFLICT,
    Files,
    _param_int,
    _param_json,
)
from ._records import JSON, ApiError, bad_request
from ._state import _Bot


class _BotMethods(_Checks):
    """getMe, getUpdates, the command menus, the menu button, getChat."""

    async def _no_op(self, bot: _Bot, params: JSON, files: Files) -> bool:
        return True

    async def _get_me(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        return bot.to_user()

    async def _get_updates(self, bot: _Bot, params: JSON, files: Files) -> list[JSON]:
        if bot.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = _param_int(params, "offset") or 0
        limit = min(max(_param_int(params, "limit") or 100, 1), 100)
        timeout = max(_param_int(params, "timeout") or 0, 0)
        self._set_allowed_updates(bot, _param_json(params, "allowed_updates"))
        if offset > 0:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        elif offset < 0:
            bot.updates = bot.updates[offset:]
        bot.poll_generation += 1
        generation = bot.poll_generation
        self._changes.notify()  # an older long poll still waiting is now terminated
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if bot.poll_generation != generation:
                raise ApiError(409, POLL_CONFLICT)
            if bot.webhook is not None:
                raise ApiError(409, WEBHOOK_CONFLICT)
            if bot.updates:
                return copy.deepcopy(bot.updates[:limit])
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._closing:
                return []
            self._waiting_polls += 1
            self._changes.notify()
            try:
                await self._changes.wait(remaining)
            finally:
                self._waiting_polls -= 1

    async def _set_my_commands(self, bot: _Bot, params: JSON, files: Files) -> bool:
        commands = _param_json(params, "commands")
        if not isinstance(commands, list):
            raise bad_request('field "commands" must be an Array')
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        stored: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("BotCommand must be an Object")
            name = str(command.get("command", "")).removeprefix("/")
            description = str(command.get("description", "")).strip()
            if not COMMAND_NAME.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("command description must be non-empty and up to 256 characters")
            stored.append({"command": name, "description": description})
        key = self._commands_key(bot, params)
        if stored:
            bot.commands[key] = stored
        else:
            bot.commands.pop(key, None)
        self._changes.notify()
        return True

    async def _get_my_commands(self, bot: _Bot, params: JSON, files: Files) -> list[JSON]:
        return copy.deepcopy(bot.commands.get(self._commands_key(bot, params), []))

    async def _delete_my_commands(self, bot: _Bot, params: JSON, files: Files) -> bool:
        bot.commands.pop(self._commands_key(bot, params), None)
        self._changes.notify()
        return True

    async def _set_chat_menu_button(self, bot: _Bot, params: JSON, files: Files) -> bool:
        button = _param_json(params, "menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise bad_request("unsupported menu button type specified")
        if button["type"] == "web_app":
            web_app = button.get("web_app")
            url = web_app.get("url", "") if isinstance(web_app, dict) else ""
            if not button.get("text") or not url.startswith("https://"):
                raise bad_request("BUTTON_URL_INVALID")
        if params.get("chat_id") in (None, ""):
            bot.menu_button = button
        else:
            self._known_chat(bot, params).menu_button = button
        self._changes.notify()
        return True

    async def _get_chat_menu_button(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        chat_id = None
        if params.get("chat_id") not in (None, ""):
            chat_id = self._known_chat(bot, params).user.id
        return self._menu_button_for(bot, chat_id)

    async def _get_file(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        """getFile: a path the bot downloads from `/file/bot<token>/<path>` (bots may
        download files of up to 20 MB)."""
        file_id = params.get("file_id")
        stored = self.files.get(str(file_id)) if file_id else None
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.content is None:
            raise bad_request("file is temporarily unavailable")
        if len(stored.content) > DOWNLOAD_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": self._file_path(stored),
        }

    async def _get_chat(self, bot: _Bot, params: JSON, files: Files) -> JSON:

        person = self._users.get(self._chat_id(params))
        if person is None:
            raise bad_request("chat not found")
        return {
            **person.to_chat(),
            "accent_color_id": person.id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }
