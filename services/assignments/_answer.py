"""Crew answers: Confirm, Decline, "Change my answer", and the reason for a decline."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    Channel,
    Event,
    EventStatus,
    NotificationKind,
    OutboxMessage,
    Person,
    SpotStatus,
    WebhookEventType,
)
from services import audit, webhooks
from services.assignments._backups import FILLED, Backups
from services.assignments._errors import AnswerRefused, BadReason
from services.assignments._invite import Inviting
from services.assignments._model import REASON_LIMIT, REASON_WINDOW, Answer, Response
from services.buttons.assignments import answer_buttons
from services.errors import NotAllowed
from services.events import invitation_rows
from services.phones import display_phone


def clean_reason(reason: str) -> str:
    """A decline's reason as kept: one line, not empty, at most REASON_LIMIT characters."""
    text = " ".join(reason.split())
    if not text:
        raise BadReason("The reason is empty. Type it in a few words, or tap Skip.")
    if len(text) > REASON_LIMIT:
        raise BadReason(
            f"The reason is {len(text)} characters; keep it under {REASON_LIMIT}. "
            "Send it again, shorter."
        )
    return text


class Answering(Inviting, Backups):
    async def _load_for(
        self, assignment_id: int, person: Person, conn: BaseDBAsyncClient
    ) -> tuple[Assignment, Event, Person]:
        """The assignment (locked on PostgreSQL), its event and the event's manager, in one
        query; refused if it is not `person`'s or can no longer be answered."""
        query = (
            Assignment.filter(id=assignment_id)
            .select_related("event", "event__manager")
            .using_db(conn)
        )
        if conn.capabilities.dialect == "postgres":
            # Only the assignment: every answer to one event joins the same event row.
            query = query.select_for_update(of=(Assignment._meta.db_table,))
        assignment = await query.first()
        if assignment is None:
            raise AnswerRefused("This invitation no longer exists. Nothing was changed.")
        if assignment.person_id != person.id:  # type: ignore[attr-defined]
            raise NotAllowed("This invitation is not yours. Nothing was changed.")
        event = assignment.event
        if (
            assignment.status is AssignmentStatus.CANCELLED
            and event.status is EventStatus.SCHEDULED
            and await self.lost_spot(assignment, conn)
        ):
            raise AnswerRefused(FILLED)
        if event.status is EventStatus.CANCELLED or assignment.status is AssignmentStatus.CANCELLED:
            raise AnswerRefused(f"{event.title} was cancelled, so there is nothing to answer.")
        if event.status is EventStatus.COMPLETED or assignment.status is AssignmentStatus.COMPLETED:
            raise AnswerRefused(f"{event.title} is finished, so answers are closed.")
        assignment.person = person
        return assignment, event, event.manager

    async def respond(
        self,
        assignment_id: int,
        answer: Answer,
        *,
        person: Person,
        chat_id: int | None,
        wake_outbox: bool = True,
    ) -> Response:
        """Record the answer with its time, and queue the invitation's edit and the
        manager's message in the same transaction. `wake_outbox=False`: the caller wakes
        the dispatchers itself (the button handler answers the press first)."""
        now = self.clock.now()
        async with in_transaction() as conn:
            # The spot first, then the assignment: two confirming at once queue here.
            spot = await self.spot_for(assignment_id, conn)
            assignment, event, manager = await self._load_for(assignment_id, person, conn)
            if spot is None and assignment.status is AssignmentStatus.INVITED:
                # Its deadline may have opened a spot while we waited for the row.
                spot = await self.spot_for(assignment_id, conn, lock=False)
            if now >= event.call_at:
                raise AnswerRefused(
                    f"The call time for {event.title} ({self.when(event.call_at)}) has passed, "
                    f"so answers are closed. Call {manager.name} on "
                    f"{display_phone(manager.phone)} if something changed."
                )
            previous = assignment.status
            new = (
                AssignmentStatus.CONFIRMED
                if answer is Answer.CONFIRM
                else AssignmentStatus.DECLINED
            )
            if previous is new:
                await self._show_invitation(assignment, event, manager, conn)
                return Response(assignment, event, previous, changed=False)
            if new is AssignmentStatus.CONFIRMED and spot and spot.status is SpotStatus.OPEN:
                await self._fill(spot, assignment, event, conn)
            updated = (
                await Assignment.filter(id=assignment.id, status=previous)
                .using_db(conn)
                .update(status=new, responded_at=now, decline_reason=None, updated_at=now)
            )
            if not updated:
                raise AnswerRefused("Your answer changed at the same moment. Please try again.")
            assignment.status, assignment.responded_at = new, now
            assignment.decline_reason = None
            assignment.updated_at = now
            await audit.record(
                AuditAction.answer(new),
                "assignment",
                assignment.id,
                at=now,
                actor=person,
                chat_id=chat_id,
                details={"event_id": event.id, "from": previous.value, "role": assignment.role},
                using_db=conn,
            )
            await webhooks.emit(
                WebhookEventType(f"assignment.{new.value}"),
                webhooks.assignment_data(assignment, event, person),
                at=now,
                using_db=conn,
            )
            rows = self._invitation_rows(assignment, event, manager)
            dropped_out = previous is AssignmentStatus.CONFIRMED
            told: dict[str, Any] = {
                "event": event,
                "assignment": assignment,
                "crew": person,
                "previous": previous.value,
                "dropped_out": dropped_out,
            }
            if dropped_out:
                # Loud and on its own, in chat and by email, whatever ANSWER_EMAILS says.
                rows += self.notifier.prepare(manager, NotificationKind.ANSWER, told)
                await self._digest_follows(manager, conn)
            else:
                rows += await self._answer_emails(manager, told, conn)
            if new is AssignmentStatus.DECLINED:
                await self._after_decline(assignment, event, manager, spot, conn)
            rows += await self._tally_rows(event, manager, conn, answer=True)
            await self.notifier.supersede(rows, conn)
            await OutboxMessage.bulk_create(rows, using_db=conn)
            await self.scheduler.plan_assignment(assignment, event, conn)
        if wake_outbox:
            self.outbox.wake()
        return Response(assignment, event, previous, changed=True)

    def _invitation_rows(
        self, assignment: Assignment, event: Event, manager: Person
    ) -> list[OutboxMessage]:
        """The edit of the invitation in the person's chat that shows where things stand."""
        return invitation_rows(self.notifier, assignment, event, manager, self.clock.now())

    async def _show_invitation(
        self, assignment: Assignment, event: Event, manager: Person, conn: BaseDBAsyncClient
    ) -> None:
        rows = self._invitation_rows(assignment, event, manager)
        await self.notifier.supersede(rows, conn)
        await OutboxMessage.bulk_create(rows, using_db=conn)

    async def reopen(self, assignment_id: int, *, person: Person) -> Assignment:
        """'Change my answer': show Confirm / Decline again; nothing changes until one is pressed."""
        async with in_transaction() as conn:
            assignment, event, manager = await self._load_for(assignment_id, person, conn)
            if self.clock.now() >= event.call_at:
                raise AnswerRefused(
                    f"The call time for {event.title} ({self.when(event.call_at)}) has passed, "
                    "so answers are closed."
                )
            await self.notifier.notify(
                person,
                NotificationKind.INVITATION,
                {**self._context(assignment, event, manager), "changing": True},
                buttons=answer_buttons(assignment.id),
                live_key=f"asg:{assignment.id}",
                channels=(Channel.TELEGRAM,),
                using_db=conn,
            )
        self.outbox.wake()
        return assignment

    async def awaiting_reason(self, person: Person) -> int | None:
        """The invitation `person` declined in the last hour and has given no reason for (nor
        tapped Skip): their next plain message is that reason."""
        found = (
            await Assignment.filter(
                person_id=person.id,
                status=AssignmentStatus.DECLINED,
                decline_reason__isnull=True,
                responded_at__gte=self.clock.now() - REASON_WINDOW,
            )
            .order_by("-responded_at", "-id")
            .first()
        )
        return found.id if found else None

    async def skip_reason(self, assignment_id: int, *, person: Person) -> None:
        """'Skip': no reason is coming, so the next message is not taken as one."""
        async with in_transaction() as conn:
            assignment, _, _ = await self._load_for(assignment_id, person, conn)
            if assignment.status is AssignmentStatus.DECLINED and assignment.decline_reason is None:
                await (
                    Assignment.filter(id=assignment.id, decline_reason__isnull=True)
                    .using_db(conn)
                    .update(decline_reason="", updated_at=self.clock.now())
                )

    async def give_reason(
        self, assignment_id: int, reason: str, *, person: Person, chat_id: int | None
    ) -> Assignment:
        text = clean_reason(reason)
        async with in_transaction() as conn:
            assignment, event, manager = await self._load_for(assignment_id, person, conn)
            if assignment.status is not AssignmentStatus.DECLINED:
                raise AnswerRefused(
                    "You have not declined this invitation, so no reason is needed."
                )
            assignment.decline_reason = text
            assignment.updated_at = now = self.clock.now()
            await assignment.save(using_db=conn, update_fields=["decline_reason", "updated_at"])
            await audit.record(
                AuditAction.ASSIGNMENT_REASON,
                "assignment",
                assignment.id,
                at=now,
                actor=person,
                chat_id=chat_id,
                details={"reason": text},
                using_db=conn,
            )
            rows = await self._answer_emails(
                manager,
                {
                    "event": event,
                    "assignment": assignment,
                    "crew": person,
                    "previous": AssignmentStatus.DECLINED.value,
                    "dropped_out": False,
                    "reason_only": True,
                },
                conn,
            )
            # In chat the reason joins the tally (its line first), not a message of its own.
            rows += await self._tally_rows(event, manager, conn, answer=False, first=assignment)
            await self.notifier.supersede(rows, conn)
            await OutboxMessage.bulk_create(rows, using_db=conn)
        self.outbox.wake()
        return assignment
