"""Backups: a spot left by a decline, or by an invitation unanswered at its deadline
(OFFER_RESPONSE_HOURS), is offered to the next free person with the role who has not been
asked for this event, the most reliable first. Each offer has a deadline; at it the next
person is asked too. The first to confirm takes the spot: the others' offers are closed.

Exactly once: the deadlines are scheduled jobs (claimed with a lease, done in the
transaction that acts on them), and a spot is filled by one conditional UPDATE with its row
locked first (PostgreSQL; SQLite's writers run one at a time), before any assignment row:
two people confirming at once queue on the spot, and the second finds it filled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    AuditLog,
    BackupOffer,
    BackupSpot,
    Channel,
    Event,
    EventNeed,
    EventStatus,
    NotificationKind,
    OutboxMessage,
    Person,
    SpotStatus,
)
from services import audit
from services.assignments._asking import ask_to_answer
from services.assignments._errors import AnswerRefused
from services.assignments._tally import Tallies
from services.availability import off_for_event

FILLED = "This spot was filled: someone else confirmed first. Thank you all the same."
LATE_WINDOW = timedelta(hours=48)  # a late drop-out, as /stats counts them
WORKED = (AssignmentStatus.CONFIRMED, AssignmentStatus.COMPLETED)
SYSTEM = "Callsheet (auto backups)"


async def is_free(person: Person, event: Event, conn: BaseDBAsyncClient | None = None) -> bool:
    """Whether `person` can take a spot on `event`: not confirmed on an overlapping event
    (days off are checked by the caller, for everyone at once: `off_for_event`)."""
    busy = (
        await Assignment.filter(
            person_id=person.id,
            status=AssignmentStatus.CONFIRMED,
            event__status=EventStatus.SCHEDULED,
            event__call_at__lt=event.ends_at,
            event__ends_at__gt=event.call_at,
        )
        .exclude(event_id=event.id)
        .using_db(conn)
        .exists()
    )
    return not busy


@dataclass(frozen=True)
class Record:
    """A person's past answers: who goes first for a spot."""

    answered: int = 0  # confirmed, worked, declined, or never answered by the call time
    worked: int = 0  # confirmed or worked
    late_dropouts: int = 0  # confirmed, then declined within 48 hours of the call time

    @property
    def rate(self) -> float:
        return self.worked / self.answered if self.answered else 0.5  # unknown: in between

    def order(self, person: Person) -> tuple[int, float, int, str, int]:
        return (self.late_dropouts, -self.rate, -self.worked, person.name, person.id)


async def records(
    people: list[Person], now: datetime, conn: BaseDBAsyncClient | None = None
) -> dict[int, Record]:
    """Confirm rate and late drop-outs, from everyone's past assignments (as /stats counts
    them: an invitation never answered by its call time counts as not confirmed)."""
    if not people:
        return {}
    rows = (
        await Assignment.filter(person_id__in=[p.id for p in people])
        .using_db(conn)
        .select_related("event")
    )
    by_id = {a.id: a for a in rows}
    late: dict[int, int] = {}
    for row in await AuditLog.filter(
        action=AuditAction.ASSIGNMENT_DECLINED,
        subject_type="assignment",
        subject_id__in=list(by_id) or [0],
    ).using_db(conn):
        a = by_id[row.subject_id or 0]
        if (row.details or {}).get("from") == "confirmed" and (
            a.event.call_at - row.at <= LATE_WINDOW
        ):
            late[a.person_id] = late.get(a.person_id, 0) + 1  # type: ignore[attr-defined]
    result: dict[int, Record] = {}
    for person in people:
        mine = [a for a in rows if a.person_id == person.id]  # type: ignore[attr-defined]
        answered = [
            a
            for a in mine
            if a.status in (*WORKED, AssignmentStatus.DECLINED)
            or (a.status is AssignmentStatus.INVITED and a.event.call_at <= now)
        ]
        worked = sum(1 for a in answered if a.status in WORKED)
        result[person.id] = Record(len(answered), worked, late.get(person.id, 0))
    return result


class Backups(Tallies):
    async def spot_for(
        self, assignment_id: int, conn: BaseDBAsyncClient, *, lock: bool = True
    ) -> BackupSpot | None:
        """The spot this invitation competes for (as an offer, or as the unanswered one that
        left it), locked on PostgreSQL. Taken before the assignment's own lock, always."""
        offer = await BackupOffer.filter(assignment_id=assignment_id).using_db(conn).first()
        if offer is not None:
            spot_id: int = offer.spot_id  # type: ignore[attr-defined]
        else:
            left = await (
                BackupSpot.filter(source_id=assignment_id, unanswered=True)
                .using_db(conn)
                .order_by("-id")
                .first()
            )
            if left is None:
                return None
            spot_id = left.id
        query = BackupSpot.filter(id=spot_id).using_db(conn)
        if lock and conn.capabilities.dialect == "postgres":
            query = query.select_for_update()
        return await query.first()

    async def lost_spot(self, assignment: Assignment, conn: BaseDBAsyncClient) -> bool:
        """A cancelled invitation whose spot someone else took (read without a lock: the
        assignment's own is held already, and the spot is never locked after it)."""
        spot = await self.spot_for(assignment.id, conn, lock=False)
        return spot is not None and spot.status is SpotStatus.FILLED

    async def _members(self, spot: BackupSpot, conn: BaseDBAsyncClient) -> list[int]:
        offers = await BackupOffer.filter(spot_id=spot.id).using_db(conn)
        ids: list[int] = [o.assignment_id for o in offers]  # type: ignore[attr-defined]
        if spot.unanswered:
            ids.append(spot.source_id)  # type: ignore[attr-defined]
        return ids

    async def _fill(
        self, spot: BackupSpot, winner: Assignment, event: Event, conn: BaseDBAsyncClient
    ) -> None:
        """`winner` confirmed first: the spot is theirs, everyone else's offer is closed."""
        now = self.clock.now()
        taken = (
            await BackupSpot.filter(id=spot.id, status=SpotStatus.OPEN)
            .using_db(conn)
            .update(status=SpotStatus.FILLED, filled_by_id=winner.id, updated_at=now)
        )
        if not taken:
            raise AnswerRefused(FILLED)
        spot.status, spot.filled_by_id = SpotStatus.FILLED, winner.id
        others = (
            await Assignment.filter(
                id__in=[i for i in await self._members(spot, conn) if i != winner.id],
                status=AssignmentStatus.INVITED,
            )
            .using_db(conn)
            .select_related("person")
        )
        manager = await Person.get(id=event.manager_id).using_db(conn)  # type: ignore[attr-defined]
        for other in others:
            await (
                Assignment.filter(id=other.id, status=AssignmentStatus.INVITED)
                .using_db(conn)
                .update(status=AssignmentStatus.CANCELLED, updated_at=now)
            )
            other.status = AssignmentStatus.CANCELLED
            await audit.record(
                AuditAction.ASSIGNMENT_CANCELLED,
                "assignment",
                other.id,
                at=now,
                actor_label=SYSTEM,
                details={"person": other.person.name, "reason": "the spot was filled"},
                using_db=conn,
            )
            await self.notifier.notify(
                other.person,
                NotificationKind.BACKUP_OFFER,
                {"event": event, "assignment": other, "manager": manager, "filled": True},
                live_key=f"asg:{other.id}",
                channels=(Channel.TELEGRAM,),
                using_db=conn,
            )
            await self.scheduler.plan_assignment(other, event, conn)

    async def _after_decline(
        self,
        assignment: Assignment,
        event: Event,
        manager: Person,
        spot: BackupSpot | None,
        conn: BaseDBAsyncClient,
    ) -> None:
        if not event.auto_backups:
            return
        if spot is not None and spot.status is SpotStatus.OPEN:  # an offer turned down
            await self._offer_next(spot, event, manager, conn)
            return
        await self._open_spot(assignment, event, manager, conn, unanswered=False)

    async def deadline_passed(
        self, assignment_id: int, event: Event, conn: BaseDBAsyncClient
    ) -> bool:
        """The scheduler's ANSWER_DEADLINE job: no answer yet, so the next person is asked
        too (the first to confirm, this one included, gets the spot)."""
        spot = await self.spot_for(assignment_id, conn)
        query = Assignment.filter(id=assignment_id).using_db(conn)
        if conn.capabilities.dialect == "postgres":
            # After the spot, as answers lock them: an answer at this moment waits for us,
            # then finds the spot we open (see `respond`).
            query = query.select_for_update(of=(Assignment._meta.db_table,))
        assignment = await query.first()
        if (
            assignment is None
            or assignment.status is not AssignmentStatus.INVITED
            or not event.auto_backups
        ):
            return False
        manager = await Person.get(id=event.manager_id).using_db(conn)  # type: ignore[attr-defined]
        if spot is not None:
            if spot.status is not SpotStatus.OPEN:
                return False
            await self._offer_next(spot, event, manager, conn)
        elif not await self._open_spot(assignment, event, manager, conn, unanswered=True):
            return False
        rows = await self._tally_rows(event, manager, conn, answer=True)
        await self.notifier.supersede(rows, conn)
        await OutboxMessage.bulk_create(rows, using_db=conn)
        return True

    async def vacated(self, assignment_ids: Sequence[int]) -> int:
        """Assignments cancelled because their person was deactivated: each spot goes to a
        backup as a decline's would. Called after the deactivation's own transaction, each in
        its own, the spot locked before the assignment as answers lock them."""
        offered = 0
        for assignment_id in assignment_ids:
            async with in_transaction() as conn:
                spot = await self.spot_for(assignment_id, conn)
                assignment = await Assignment.filter(id=assignment_id).using_db(conn).get()
                event = await Event.filter(id=assignment.event_id).using_db(conn).get()  # type: ignore[attr-defined]
                if (
                    assignment.status is not AssignmentStatus.CANCELLED
                    or event.status is not EventStatus.SCHEDULED
                    or not event.auto_backups
                    or self.clock.now() >= event.call_at
                ):
                    continue
                manager = await Person.get(id=event.manager_id).using_db(conn)  # type: ignore[attr-defined]
                before = await BackupOffer.filter(spot__event_id=event.id).using_db(conn).count()
                await self._after_decline(assignment, event, manager, spot, conn)
                if (
                    await BackupOffer.filter(spot__event_id=event.id).using_db(conn).count()
                    == before
                ):
                    continue  # nobody to offer it to, or not needed
                rows = await self._tally_rows(event, manager, conn, answer=True)
                await self.notifier.supersede(rows, conn)
                await OutboxMessage.bulk_create(rows, using_db=conn)
                offered += 1
        if offered:
            self.outbox.wake()
        return offered

    async def _open_spot(
        self,
        leaving: Assignment,
        event: Event,
        manager: Person,
        conn: BaseDBAsyncClient,
        *,
        unanswered: bool,
    ) -> bool:
        if not await self._still_needed(event, leaving, conn):
            return False
        if unanswered and not await self.candidates_for(event, leaving.role, conn):
            return False  # nobody to ask: the invitation simply stays open
        now = self.clock.now()
        spot = await BackupSpot.create(
            event_id=event.id,
            role=leaving.role,
            source_id=leaving.id,
            unanswered=unanswered,
            created_at=now,
            updated_at=now,
            using_db=conn,
        )
        await self._offer_next(spot, event, manager, conn)
        return True

    async def _still_needed(
        self, event: Event, leaving: Assignment, conn: BaseDBAsyncClient
    ) -> bool:
        """Whether the event is short of `leaving`'s role (or of crew, for `crew 4`) without
        them: confirmed crew, invitations outside any open spot, and open spots count."""
        needs = {n.role: n.count for n in await EventNeed.filter(event_id=event.id).using_db(conn)}
        if needs:
            if leaving.role not in needs:
                return False
            need: int | None = needs[leaving.role]
        else:
            need = event.crew_target
        if need is None:
            return True  # no needs given: a spot someone was asked for is worth filling
        spots = await BackupSpot.filter(event_id=event.id, status=SpotStatus.OPEN).using_db(conn)
        assignments = Assignment.filter(
            event_id=event.id, status__in=[AssignmentStatus.CONFIRMED, AssignmentStatus.INVITED]
        ).exclude(id=leaving.id)
        if needs:
            spots = [s for s in spots if s.role == leaving.role]
            assignments = assignments.filter(role=leaving.role)
        members = {i for s in spots for i in await self._members(s, conn)}
        have = len(spots) + sum(
            1
            for a in await assignments.using_db(conn)
            if a.status is AssignmentStatus.CONFIRMED or a.id not in members
        )
        return have < need

    async def candidates_for(
        self, event: Event, role: str, conn: BaseDBAsyncClient | None = None
    ) -> list[Person]:
        """Who a spot goes to, in order: active, with the role, free (no overlapping gig, no
        day off), not asked for this event yet; fewest late drop-outs first, then the best confirm rate."""
        asked = {
            a.person_id  # type: ignore[attr-defined]
            for a in await Assignment.filter(event_id=event.id).using_db(conn)
        }
        people = [
            p
            for p in await Person.filter(active=True).using_db(conn).order_by("id")
            if p.id not in asked and role in [s.strip() for s in p.skill_list]
        ]
        off = await off_for_event([p.id for p in people], event, self.tz, conn)
        free = [p for p in people if p.id not in off and await is_free(p, event, conn)]
        known = await records(free, self.clock.now(), conn)
        return sorted(free, key=lambda p: known[p.id].order(p))

    async def _offer_next(
        self, spot: BackupSpot, event: Event, manager: Person, conn: BaseDBAsyncClient
    ) -> Assignment | None:
        found = await self.candidates_for(event, spot.role, conn)
        if not found:
            return None
        person, now = found[0], self.clock.now()
        offer = await Assignment.create(
            event_id=event.id,
            person_id=person.id,
            role=spot.role,
            invited_at=now,
            updated_at=now,
            using_db=conn,
        )
        offer.person = person
        until = self.scheduler.answer_by(offer, event)
        await BackupOffer.create(
            spot_id=spot.id, assignment_id=offer.id, until=until, created_at=now, using_db=conn
        )
        await audit.record(
            AuditAction.ASSIGNMENT_INVITED,
            "assignment",
            offer.id,
            at=now,
            actor_label=SYSTEM,
            details={"event_id": event.id, "person": person.name, "role": spot.role},
            using_db=conn,
        )
        context = {"event": event, "assignment": offer, "manager": manager, "until": until}
        await ask_to_answer(
            self,
            person,
            NotificationKind.BACKUP_OFFER,
            context,
            offer,
            event,
            f"offer:{offer.id}",
            conn,
        )
        return offer
