"""Telegram's limits and error texts, and reading a request's parameters as Telegram reads them."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from ._records import JSON, bad_request

Files = dict[str, web.FileField]  # a request's uploads, by parameter name

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
ANSWER_TEXT_LIMIT = 200
UPLOAD_LIMIT = 50 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # what a bot may download (getFile)
INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
COMMAND_SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
# Parameters that PTB (and any client using form encoding) sends JSON-encoded.
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "scope",
        "commands",
        "allowed_updates",
        "menu_button",
        "reply_parameters",
        "link_preview_options",
    }
)
QUERY_EXPIRED = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
COMMAND_IN_TEXT = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _param_str(params: JSON, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise bad_request(f'field "{name}" must be of type String')


def _param_int(params: JSON, name: str, *, missing: str | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if missing:
            raise bad_request(missing)
        return None
    if isinstance(value, bool):
        raise bad_request(f'field "{name}" must be of type Integer')
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f'field "{name}" must be of type Integer') from None


def _param_bool(params: JSON, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _param_json(params: JSON, name: str) -> Any:
    value = params.get(name)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        if name == "reply_markup":
            raise bad_request("can't parse reply keyboard markup JSON object") from None
        raise bad_request(f"can't parse {name} JSON object") from None


def _decoded_for_log(params: JSON, files: Files) -> JSON:
    logged: JSON = {}
    for name, value in params.items():
        if name in JSON_PARAMS and isinstance(value, str):
            try:
                logged[name] = json.loads(value)
            except ValueError:
                logged[name] = value
        else:
            logged[name] = value
    for name, upload in files.items():
        logged[name] = {"filename": upload.filename, "content_type": upload.content_type}
    return logged
