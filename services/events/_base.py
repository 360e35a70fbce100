"""What the event and assignment services share: who they tell, their jobs, their clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.clock import Clock, format_when
from services.notifications import Notifier
from services.outbox import Outbox
from services.scheduler import Scheduler


class EventsBase:
    def __init__(
        self, notifier: Notifier, outbox: Outbox, scheduler: Scheduler, clock: Clock, tz: ZoneInfo
    ) -> None:
        self.notifier = notifier
        self.outbox = outbox
        self.scheduler = scheduler
        self.clock = clock
        self.tz = tz

    def when(self, value: datetime) -> str:
        return format_when(value, self.tz, self.clock.now())
