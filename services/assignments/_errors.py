"""Refusals about assignments: one area base, each also on a branch of `services.errors`."""

from __future__ import annotations

from models import Event
from services.errors import CallsheetError, Conflict, InvalidInput


class AssignmentError(CallsheetError):
    pass


class AlreadyAssigned(AssignmentError, Conflict):
    pass


class Overlap(AssignmentError, Conflict):
    """The person is confirmed on an overlapping event; the manager must say "assign anyway"."""

    def __init__(self, message: str, other: Event) -> None:
        super().__init__(message)
        self.other = other


class PersonOff(AssignmentError, Conflict):
    """The person marked a day of the event off; the manager must say "assign anyway"."""


class AnswerRefused(AssignmentError, Conflict):
    """A press that cannot change anything (stale, someone else's, too late)."""


class TooLong(AssignmentError, InvalidInput):
    """The message would not fit in one Telegram message."""


class BadReason(AssignmentError, InvalidInput):
    """A decline's reason that is empty or too long."""
