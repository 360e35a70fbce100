"""Telegram Mini App initData, checked as Telegram documents it.

The secret key is HMAC-SHA256 of the bot token keyed with "WebAppData". The data-check string
is every field but `hash`, as `key=value` with the values URL-decoded, sorted by key and joined
with "\\n". Its HMAC-SHA256 under the secret key, in hex, must equal `hash`. `auth_date` must be
at most a day old: a copied link stops working.

Our own thirty lines, not a library: the check is small, and it is the one thing that stands
between the web and the books.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from services.errors import CallsheetError

MAX_AGE = timedelta(hours=24)
# A clock a little behind Telegram's must not refuse a fresh login.
SKEW = timedelta(minutes=5)


class InvalidInitData(CallsheetError):
    """initData that does not prove Telegram sent this person here just now."""


@dataclass(frozen=True)
class InitData:
    user_id: int
    first_name: str
    username: str | None
    auth_date: datetime
    start_param: str | None
    fields: dict[str, str]


def _fields(raw: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise InvalidInitData("initData is not a query string") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            # Which of the two did Telegram sign? Neither answer is safe: refuse.
            raise InvalidInitData(f"initData has {key!r} twice")
        fields[key] = value
    return fields


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def signature(fields: dict[str, str], bot_token: str) -> str:
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def sign_init_data(
    bot_token: str, *, user_id: int, first_name: str, auth_date: datetime, query_id: str = "AA"
) -> str:
    """initData as Telegram signs it for this user at `auth_date`: for the demo and the
    benchmark, which open the Mini App as Telegram would (tests/browser_helpers.py keeps a
    signer of its own, so that the browser tests do not trust this module to test itself)."""
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "query_id": query_id,
        "user": json.dumps({"id": user_id, "first_name": first_name}, separators=(",", ":")),
    }
    return urlencode({**fields, "hash": signature(fields, bot_token)})


def check_init_data(
    raw: str, bot_token: str, *, now: datetime, max_age: timedelta = MAX_AGE
) -> InitData:
    """The person Telegram vouches for, or InvalidInitData saying why not."""
    if not raw:
        raise InvalidInitData("no initData came with the request")
    fields = _fields(raw)
    given = fields.get("hash")
    if not given:
        raise InvalidInitData("initData has no hash")
    if not hmac.compare_digest(given.encode(), signature(fields, bot_token).encode()):
        raise InvalidInitData("initData is not signed by this bot")
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
    except (KeyError, ValueError, OverflowError) as exc:
        raise InvalidInitData("initData has no valid auth_date") from exc
    if now - auth_date > max_age:
        raise InvalidInitData("initData is more than a day old: open the app again")
    if auth_date - now > SKEW:
        raise InvalidInitData("initData is dated in the future")
    user = _user(fields.get("user"))
    return InitData(
        user_id=user["id"],
        first_name=str(user.get("first_name", "")),
        username=user.get("username"),
        auth_date=auth_date,
        start_param=fields.get("start_param"),
        fields=fields,
    )


def _user(text: str | None) -> dict[str, Any]:
    if text is None:
        raise InvalidInitData("initData names no user")
    try:
        user = json.loads(text)
    except ValueError as exc:
        raise InvalidInitData("initData's user is not JSON") from exc
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise InvalidInitData("initData's user has no id")
    return user
