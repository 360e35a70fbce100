"""Telegram's side of the Mini App's menu button (services/menubuttons.py decides whose)."""

from __future__ import annotations

from typing import Any

from telegram import MenuButtonWebApp, WebAppInfo
from telegram.error import BadRequest, Forbidden
from telegram.ext import ExtBot

from services.menubuttons import MenuRefused, Setter


def menu_setter(bot: ExtBot[Any]) -> Setter:
    async def set_menu(chat_id: int, text: str, url: str) -> None:
        try:
            await bot.set_chat_menu_button(
                chat_id=chat_id, menu_button=MenuButtonWebApp(text, WebAppInfo(url))
            )
        except (BadRequest, Forbidden) as exc:  # blocked, chat gone, URL refused: kept
            raise MenuRefused(exc.message) from exc

    return set_menu
