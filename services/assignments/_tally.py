"""What the manager is told as crew answer: one live "answers" tally per event in chat, and
the answer by email (one email each, or one digest an hour: ANSWER_EMAILS).

The tally is rendered in the transaction that records the answer, after locking the event's
`AnswerTally` row: answers to one event write their tallies one after the other, and each
sees every answer committed before it. The outbox keeps only the newest pending edit of a
live message, so a burst of answers costs the manager's chat a handful of edits, and the last
one shows the final counts. A drop-out is not folded in: it stays a loud message of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count

from models import (
    AnswerTally,
    Assignment,
    AssignmentStatus,
    BackupOffer,
    BackupSpot,
    Channel,
    Event,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from services.assignments._model import TALLY_LATEST, TALLY_QUIET, AnswerEmails
from services.clock import Clock
from services.events import EventsBase
from services.notifications import Notifier
from services.outbox import Outbox
from services.scheduler import Scheduler

ANSWERED = (AssignmentStatus.CONFIRMED, AssignmentStatus.DECLINED)
DIGEST_LINES = 300  # an hour's digest lists this many answers, and counts the rest
DIGEST_PERIOD = timedelta(hours=1)


@dataclass(frozen=True)
class Step:
    """A spot offered to backups, as the manager sees it: who left it, who was offered it
    (each with their offer's deadline and status), and who took it."""

    left: Assignment  # with its person
    unanswered: bool  # no answer by the deadline (else: declined)
    role: str
    offers: list[tuple[Assignment, datetime | None]]
    taken_by: Assignment | None


async def backup_steps(event: Event, conn: BaseDBAsyncClient, limit: int = 3) -> list[Step]:
    spots = list(
        await BackupSpot.filter(event_id=event.id)
        .using_db(conn)
        .select_related("source__person")
        .order_by("-id")
        .limit(limit)
    )
    if not spots:
        return []
    offers = (
        await BackupOffer.filter(spot_id__in=[s.id for s in spots])
        .using_db(conn)
        .select_related("assignment__person")
        .order_by("id")
    )
    steps = []
    for spot in spots:
        mine = [(o.assignment, o.until) for o in offers if o.spot_id == spot.id]  # type: ignore[attr-defined]
        taken = [a for a, _ in mine if a.id == spot.filled_by_id]  # type: ignore[attr-defined]
        if spot.filled_by_id == spot.source_id:  # type: ignore[attr-defined]
            taken = [spot.source]
        steps.append(
            Step(spot.source, spot.unanswered, spot.role, mine, taken[0] if taken else None)
        )
    return steps


@dataclass(frozen=True)
class TallyView:
    event: Event
    confirmed: int
    declined: int
    waiting: int  # invited, no answer yet
    latest: list[Assignment]  # answered, newest first, each with its person
    steps: list[Step] = field(default_factory=list)  # backups offered, newest first

    @property
    def needed(self) -> int:
        return max(0, (self.event.crew_target or 0) - self.confirmed)


def tally_key(event_id: int, generation: int) -> str:
    return f"answers:{event_id}:{generation}"


async def tally_view(
    event: Event, conn: BaseDBAsyncClient, *, first: Assignment | None = None
) -> TallyView:
    """The counts and the latest answers; `first` (someone who just gave a reason) leads."""
    counts: dict[AssignmentStatus, int] = {}
    grouped = (
        await Assignment.filter(event_id=event.id)
        .using_db(conn)
        .group_by("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    for status, n in grouped:
        counts[AssignmentStatus(status)] = int(n)
    latest = list(
        await Assignment.filter(event_id=event.id, status__in=ANSWERED)
        .using_db(conn)
        .select_related("person")
        .order_by("-responded_at", "-id")
        .limit(TALLY_LATEST)
    )
    if first is not None and first.status in ANSWERED:
        latest = [first, *[a for a in latest if a.id != first.id]][:TALLY_LATEST]
    return TallyView(
        event,
        counts.get(AssignmentStatus.CONFIRMED, 0),
        counts.get(AssignmentStatus.DECLINED, 0),
        counts.get(AssignmentStatus.INVITED, 0),
        latest,
        await backup_steps(event, conn),
    )


def hour_window(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The clock hour `now` is in, in the company's timezone (some are :30 off UTC)."""
    start = now.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return start, start + DIGEST_PERIOD


class Tallies(EventsBase):
    def __init__(
        self,
        notifier: Notifier,
        outbox: Outbox,
        scheduler: Scheduler,
        clock: Clock,
        tz: ZoneInfo,
        *,
        answer_emails: AnswerEmails = AnswerEmails.EACH,
    ) -> None:
        super().__init__(notifier, outbox, scheduler, clock, tz)
        self.answer_emails = answer_emails

    async def _tally_generation(
        self, event_id: int, conn: BaseDBAsyncClient, *, answer: bool
    ) -> int:
        """Lock the event's tally row (made on the first answer) and say which live message
        to write: a new one for an `answer` after a quiet spell, else the current one."""
        now = self.clock.now()

        def locked() -> Any:
            query = AnswerTally.filter(event_id=event_id).using_db(conn)
            if conn.capabilities.dialect == "postgres":
                query = query.select_for_update()
            return query.first()

        tally: AnswerTally | None = await locked()
        if tally is None:
            # Two first answers at once: one insert wins; the other waits on the unique
            # event_id until the winner commits, then does nothing and locks the winner's row.
            await AnswerTally.bulk_create(
                [AnswerTally(event_id=event_id)], ignore_conflicts=True, using_db=conn
            )
            tally = await locked()
            assert tally is not None
        generation, last = tally.generation, tally.last_answer_at
        quiet = last is None or now - last >= TALLY_QUIET
        if generation == 0 or (answer and quiet):
            generation += 1
        if answer:
            last = now
        await (
            AnswerTally.filter(id=tally.id)
            .using_db(conn)
            .update(generation=generation, last_answer_at=last)
        )
        return generation

    async def _tally_rows(
        self,
        event: Event,
        manager: Person,
        conn: BaseDBAsyncClient,
        *,
        answer: bool,
        first: Assignment | None = None,
    ) -> list[OutboxMessage]:
        """The manager's live tally as it stands after this change (not yet saved)."""
        generation = await self._tally_generation(event.id, conn, answer=answer)
        view = await tally_view(event, conn, first=first)
        key = tally_key(event.id, generation)
        rows = self.notifier.prepare(
            manager,
            NotificationKind.ANSWERS_TALLY,
            {"view": view},
            live_key=key,
            channels=(Channel.TELEGRAM,),
        )
        # The edit this one replaces may be waiting out Telegram's Retry-After: so does this
        # one, or every answer would knock on her chat again at once and meet another 429.
        waiting = await (
            OutboxMessage.filter(
                live_key=key, channel=Channel.TELEGRAM, status=OutboxStatus.PENDING
            )
            .using_db(conn)
            .values_list("next_attempt_at")
        )
        for row in rows:
            row.next_attempt_at = max([row.next_attempt_at, *(w for (w,) in waiting)])
        return rows

    async def _answer_emails(
        self,
        manager: Person,
        context: dict[str, Any],
        conn: BaseDBAsyncClient,
    ) -> list[OutboxMessage]:
        """The answer by email: its own email, or (hourly) a line in this hour's digest.
        Rows to save with the others; the digest itself is written here."""
        if not manager.active or manager.email is None:
            return []
        if self.answer_emails is AnswerEmails.HOURLY and await self._update_digest(manager, conn):
            return []
        return self.notifier.prepare(
            manager, NotificationKind.ANSWER, context, channels=(Channel.EMAIL,)
        )

    async def _digest_follows(self, manager: Person, conn: BaseDBAsyncClient) -> None:
        """Hourly: a change emailed at once (a drop-out) also shows in the hour's digest,
        where each answer is shown as it stands."""
        if self.answer_emails is AnswerEmails.HOURLY and manager.active and manager.email:
            await self._update_digest(manager, conn)

    async def _update_digest(self, manager: Person, conn: BaseDBAsyncClient) -> bool:
        """Write this hour's digest as it stands now, due at the end of the hour. False if it
        has already been claimed for sending (a clock a moment ahead on another instance):
        the caller then sends the answer in an email of its own, so that none is lost."""
        if conn.capabilities.dialect == "postgres":
            # One digest row per manager and hour: answers to her different events write it
            # one after the other (the tally lock is per event).
            await Person.filter(id=manager.id).using_db(conn).select_for_update(no_key=True)
        start, end = hour_window(self.clock.now(), self.tz)
        answers = list(
            await Assignment.filter(
                Q(responded_at__gte=start, responded_at__lt=end)
                | (
                    # a reason given this hour for an earlier decline ("" is Skip)
                    Q(
                        status=AssignmentStatus.DECLINED,
                        decline_reason__isnull=False,
                        updated_at__gte=start,
                        updated_at__lt=end,
                    )
                    & ~Q(decline_reason="")
                ),
                event_id__in=Subquery(Event.filter(manager_id=manager.id).values("id")),
                status__in=ANSWERED,
            )
            .using_db(conn)
            .select_related("event", "person")
            .order_by("event_id", "responded_at", "id")
        )
        shown = answers[:DIGEST_LINES]
        context = {
            "answers": shown,
            "more": len(answers) - len(shown),
            "confirmed": sum(1 for a in answers if a.status is AssignmentStatus.CONFIRMED),
            "declined": sum(1 for a in answers if a.status is AssignmentStatus.DECLINED),
            "start": start,
            "end": end,
        }
        key = f"answers-digest:{manager.id}:{start:%Y%m%d%H}"
        (row,) = self.notifier.prepare(
            manager,
            NotificationKind.ANSWERS_DIGEST,
            context,
            dedupe_key=key,
            channels=(Channel.EMAIL,),
        )
        existing = await OutboxMessage.filter(dedupe_key=row.dedupe_key).using_db(conn).first()
        if existing is None:
            row.next_attempt_at = end
            await row.save(using_db=conn)
            return True
        updated = (
            await OutboxMessage.filter(id=existing.id, status=OutboxStatus.PENDING)
            .using_db(conn)
            .update(subject=row.subject, text=row.text, html=row.html)
        )
        return bool(updated)
