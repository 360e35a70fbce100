"""The aiohttp app's typed keys, apart from bot/web.py so that the page handlers
(handlers/web/) can read them without importing the app that includes them."""

from __future__ import annotations

from aiohttp import web
from telegram.ext import Application

from bot.container import Services

SERVICES = web.AppKey("services", Services)
APPLICATION = web.AppKey("application", Application)
