"""Broadcasts: `/broadcast <audience> | <text>` from a manager to many people at once.

    _errors.py    BroadcastError → BroadcastUnclear, BroadcastGone, AlreadySent
    _audience.py  reading the audience (all, a role, event 12, free 24/12) and who is in it
    _service.py   Broadcasts: the preview (a draft), Send (once), Cancel
    _summary.py   BroadcastWatcher: the live summary (delivered, email only, failed)

The messages go through the outbox like every other, written in one transaction when Send
is pressed, so Telegram's limits and the retries apply and nothing goes before Send.
"""

from services.broadcasts._audience import AUDIENCE_FORMS, BROADCAST_FORMAT, Audience
from services.broadcasts._errors import (
    AlreadySent,
    BroadcastError,
    BroadcastGone,
    BroadcastUnclear,
)
from services.broadcasts._service import Broadcasts, Preview
from services.broadcasts._summary import BroadcastWatcher, Counts, count

__all__ = [
    "AUDIENCE_FORMS",
    "BROADCAST_FORMAT",
    "AlreadySent",
    "Audience",
    "BroadcastError",
    "BroadcastGone",
    "BroadcastUnclear",
    "BroadcastWatcher",
    "Broadcasts",
    "Counts",
    "Preview",
    "count",
]
