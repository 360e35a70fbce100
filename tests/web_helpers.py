"""Talking to the web pages as the Mini App does: real HTTP, initData signed as Telegram signs."""

from __future__ import annotations

from datetime import datetime

import httpx

from bot.app import Callsheet
from services.webapp.initdata import sign_init_data


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
        raw = sign_init_data(token, user_id=user_id, first_name="Test", auth_date=when)
        headers["Authorization"] = f"tma {raw}"
    return httpx.AsyncClient(base_url=base_url(app), headers=headers, timeout=10)
