"""What the tests see of the sandbox: its errors, its people, and what it recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


class SandboxError(Exception):
    """A test asked a sandbox person to do something a real person could not do."""


class ButtonNotFound(SandboxError):
    """The button is not on that message, in that chat, right now."""


class ApiError(Exception):
    """A refusal, sent to the bot as Telegram's error object."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass(frozen=True)
class SandboxUser:
    """A person on Telegram; their private chat with any bot has chat id == user id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    phone: str | None = None
    language_code: str | None = None

    def to_user(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def to_chat(self) -> JSON:
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class RequestRecord:
    """One Bot API call as the sandbox saw it (the token is never kept)."""

    method: str
    params: JSON
    status: int
    description: str | None
    bot: str
    retry_after: int | None = None
    at: float = 0.0  # the sandbox's monotonic clock when it answered (for latency benchmarks)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class SandboxStats:
    requests: int = 0
    too_many_requests: int = 0
    updates: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0


@dataclass
class SandboxFile:
    file_id: str
    file_unique_id: str
    file_name: str | None
    mime_type: str | None
    content: bytes | None  # None for a document sent by URL
