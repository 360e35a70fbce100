"""Refusals about broadcasts: one area base, each also on a branch of `services.errors`."""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotFound


class BroadcastError(CallsheetError):
    pass


class BroadcastUnclear(BroadcastError, InvalidInput):
    """The command, the audience or the text cannot be used as typed."""


class BroadcastGone(BroadcastError, NotFound):
    """No such broadcast of this manager's, or no such event for `event 12`."""


class AlreadySent(BroadcastError, Conflict):
    pass
