"""Local stand-in for the Telegram Bot API, for end-to-end tests and `callsheet demo`.

`TelegramSandbox` (`_server`: lifetime, HTTP) is made of one part per job: `_state` (bots,
chats, messages, files, rate limits), `_params` and `_checks` (Telegram's limits, and
refusing what it refuses), `_methods_messages`, `_methods_photos` and `_methods_bot` (the
Bot API methods), `_webhook` (webhook methods and delivery), `_driver` (acting as people,
reading, waiting), `_markup` (HTML and MarkdownV2 parsing), `_records` (what tests see:
errors, records).
"""

from ._markup import ParseError, parse_html, parse_markdown_v2
from ._records import (
    ApiError,
    ButtonNotFound,
    RequestRecord,
    SandboxError,
    SandboxFile,
    SandboxStats,
    SandboxUser,
)
from ._server import TelegramSandbox

__all__ = [
    "ApiError",
    "ButtonNotFound",
    "ParseError",
    "RequestRecord",
    "SandboxError",
    "SandboxFile",
    "SandboxStats",
    "SandboxUser",
    "TelegramSandbox",
    "parse_html",
    "parse_markdown_v2",
]
