"""Typed access to our services from PTB handlers (PTB's contexttypesbot example)."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.container import Services
from models import Person


class BotData:
    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are set at start-up, before updates are processed")
        return self._services

    @services.setter
    def services(self, value: Services) -> None:
        self._services = value

    def wake_outbox(self) -> None:
        """Tell this instance's dispatchers that rows were committed (none before start-up)."""
        if self._services is not None:
            self._services.outbox.wake()


class CallsheetContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        # The sender, once `require_known_person` has loaded it for this update (PTB makes
        # one context per update and hands it to every handler group).
        self.person: Person | None = None

    @property
    def services(self) -> Services:
        return self.bot_data.services


# The application `bot.app.build_application` builds.
CallsheetApplication = Application[
    ExtBot[Any], CallsheetContext, dict[Any, Any], dict[Any, Any], BotData, Any
]
