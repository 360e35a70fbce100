"""A local Telegram Bot API server with people the tests can act as.

The bot talks to it over real HTTP through PTB's `base_url`; the tests drive
the people's side in-process (`send_text`, `press`, ...) and read the chats.
It refuses what Telegram refuses, with Telegram's own error texts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from ._driver import _Driver
from ._methods_bot import _BotMethods
from ._methods_messages import _MessageMethods
from ._methods_photos import _PhotoMethods
from ._params import (
    UPLOAD_LIMIT,
    Files,
    _decoded_for_log,
)
from ._records import JSON, ApiError, RequestRecord, SandboxUser, bad_request
from ._state import GARBLED, _Bot, _TokenBucket
from ._webhook import _Webhooks

logger = logging.getLogger(__name__)


class TelegramSandbox(_Driver, _MessageMethods, _PhotoMethods, _BotMethods, _Webhooks):
    """Telegram Bot API stand-in: `async with TelegramSandbox() as tg:`.

    Its options (rate limits, webhook retries, clocks) are `_State`'s constructor's."""

    # --- lifetime -------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        self._closing = False
        for bot in self._bots.values():
            await self._restart_delivery(bot)
        logger.info("Telegram sandbox listening on %s", self.base_url)

    async def stop(self) -> None:
        self._closing = True
        self._changes.notify()  # long polls return at once
        for bot in self._bots.values():
            await self._stop_delivery(bot)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramSandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What PTB takes as `base_url`; it appends `<token>/<method>`."""
        if self._port is None:
            raise RuntimeError("TelegramSandbox.start() has not been awaited")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/bot"

    # --- set-up -----------------------------------------------------------------

    def add_bot(self, token: str, username: str, first_name: str = "Callsheet") -> JSON:
        """Register a bot; returns its User object as getMe answers it."""
        bot_id, sep, secret = token.partition(":")
        if not (sep and bot_id.isdigit() and secret):
            raise ValueError("a bot token looks like '123456:ABC-DEF...'")
        bot = _Bot(
            token=token,
            id=int(bot_id),
            username=username.removeprefix("@"),
            first_name=first_name,
            bucket=_TokenBucket(self.overall_rate, max(1.0, self.overall_rate), self._monotonic()),
        )
        self._bots[token] = bot
        return bot.to_user()

    def user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        phone: str | None = None,
        language_code: str | None = None,
    ) -> SandboxUser:
        """A person who exists on Telegram (they have not talked to any bot yet)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        person = SandboxUser(user_id, first_name, last_name, username, phone, language_code)
        self._users[user_id] = person
        for bot in self._bots.values():
            if user_id in bot.chats:
                bot.chats[user_id].user = person
        return person

    # --- HTTP -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        bot = self._bots.get(request.match_info["token"])
        method = request.match_info["method"]
        if bot is None:
            return web.json_response(ApiError(401, "Unauthorized").to_json(), status=401)
        params: JSON = {}
        files: Files = {}
        result: Any = None
        description: str | None = None
        try:
            params, files = await self._read_params(request)
            handler = API_METHODS.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(self, bot, params, files)
        except ApiError as exc:
            body = exc.to_json()
            status = exc.code
        else:
            body = {"ok": True, "result": result}
            status = 200
            if isinstance(result, tuple):  # (result, description) as for setWebhook
                body = {"ok": True, "result": result[0], "description": result[1]}
        if status != 200:
            description = body["description"]
            logger.debug("@%s %s → %s %s", bot.username, method, status, description)
        retry_after = body.get("parameters", {}).get("retry_after")
        self.requests.append(
            RequestRecord(
                method,
                _decoded_for_log(params, files),
                status,
                description,
                bot.username,
                retry_after,
                self._monotonic(),
            )
        )
        self.stats.requests += 1
        self._changes.notify()
        if status == 200 and method.lower() == "sendmessage":
            how = self._garbled.get(body["result"]["chat"]["id"])
            if how is not None:
                return web.Response(text=GARBLED[how](body), content_type="application/json")
        return web.json_response(body, status=status)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """A file's bytes at the path getFile gave, for the bot that asked."""
        if request.match_info["token"] not in self._bots:
            return web.json_response(ApiError(401, "Unauthorized").to_json(), status=401)
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.content is not None and self._file_path(stored) == path:
                return web.Response(body=stored.content, content_type="application/octet-stream")
        return web.json_response(ApiError(404, "Not Found").to_json(), status=404)

    async def _read_params(self, request: web.Request) -> tuple[JSON, Files]:
        params: JSON = dict(request.query)
        files: Files = {}
        if not request.body_exists:
            return params, files
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = value
                else:
                    params[name] = value
        return params, files


ApiMethod = Callable[[TelegramSandbox, _Bot, JSON, Files], Awaitable[Any]]

# The Bot API methods the sandbox knows, by lower-cased name (Telegram's are case-insensitive).
API_METHODS: dict[str, ApiMethod] = {
    "getme": TelegramSandbox._get_me,
    "getupdates": TelegramSandbox._get_updates,
    "setwebhook": TelegramSandbox._set_webhook,
    "deletewebhook": TelegramSandbox._delete_webhook,
    "getwebhookinfo": TelegramSandbox._get_webhook_info,
    "sendmessage": TelegramSandbox._send_message,
    "editmessagetext": TelegramSandbox._edit_message_text,
    "editmessagereplymarkup": TelegramSandbox._edit_message_reply_markup,
    "answercallbackquery": TelegramSandbox._answer_callback_query,
    "deletemessage": TelegramSandbox._delete_message,
    "setmycommands": TelegramSandbox._set_my_commands,
    "getmycommands": TelegramSandbox._get_my_commands,
    "deletemycommands": TelegramSandbox._delete_my_commands,
    "senddocument": TelegramSandbox._send_document,
    "sendphoto": TelegramSandbox._send_photo,
    "setchatmenubutton": TelegramSandbox._set_chat_menu_button,
    "getchatmenubutton": TelegramSandbox._get_chat_menu_button,
    "getchat": TelegramSandbox._get_chat,
    "getfile": TelegramSandbox._get_file,
    "close": TelegramSandbox._no_op,
    "logout": TelegramSandbox._no_op,
}
