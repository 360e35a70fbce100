"""Talking to the web pages as the Mini App does: real HTTP, initData signed as Telegram signs."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

import httpx

from bot.app import Callsheet
from services.webapp.initdata import signature


def init_data(
    bot_token: str, *, user_id: int, first_name: str = "Test", auth_date: datetime, **extra: str
) -> str:
    """initData as Telegram would hand it to the Mini App for this user at `auth_date`."""
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "query_id": "AAHtest",
        "user": json.dumps({"id": user_id, "first_name": first_name}, separators=(",", ":")),
        **extra,
    }
    return urlencode({**fields, "hash": signature(fields, bot_token)})


def base_url(app: Callsheet) -> str:
    return f"http://127.0.0.1:{app.port}"


def web_client(app: Callsheet, user_id: int | None = None, **init: object) -> httpx.AsyncClient:
    """A client for `app`'s pages; with `user_id`, every request carries that user's initData
    signed now by the app's clock (or as `init` says)."""
    headers = {}
    if user_id is not None:
        assert app.services is not None
        token = app.settings.require_bot_token()
        when = init.pop("auth_date", None) or app.services.clock.now()
        assert isinstance(when, datetime)
        raw = init_data(token, user_id=user_id, auth_date=when)
        headers["Authorization"] = f"tma {raw}"
    return httpx.AsyncClient(base_url=base_url(app), headers=headers, timeout=10)
