"""Local stand-in for the Telegram Bot API, for end-to-end tests and `callsheet demo`."""

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
