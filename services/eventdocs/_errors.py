"""The refusals of event documents."""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotFound


class DocumentError(CallsheetError):
    """Anything refused about an event's documents."""


class FileRefused(DocumentError, InvalidInput):
    """Too big for Telegram to hand the bot, or a type we do not keep."""


class DocumentNotFound(DocumentError, NotFound):
    pass


class EventClosed(DocumentError, Conflict):
    pass
