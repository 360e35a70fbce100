"""Refusals about events: one area base, each also on a branch of `services.errors`."""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotFound


class EventError(CallsheetError):
    pass


class InvalidEvent(EventError, InvalidInput):
    pass


class EventNotFound(EventError, NotFound):
    pass


class EventClosed(EventError, Conflict):
    """The event was cancelled or completed: nothing about it can change any more."""
