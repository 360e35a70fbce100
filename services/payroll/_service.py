"""Pay sheets: open (build), change a line, submit, approve, turn pages.

Every step runs in one transaction that first locks the sheet version it changes, and moves
its status with a conditional update, so two managers pressing at once get one winner and
one clear refusal. The live sheet message is queued in the same transaction (the outbox
edits one message per manager and event in place).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Channel,
    Event,
    EventStatus,
    LiveMessage,
    NotificationKind,
    PayLine,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
    Person,
)
from services import audit
from services.clock import Clock
from services.errors import require_manager
from services.notifications import Notifier
from services.payroll._approval import approve_locked, submit_locked
from services.payroll._changes import Change, apply_change, parse_change
from services.payroll._errors import NotOnSheet, SheetClosed, SheetNotFound
from services.payroll._lines import copy_lines, lines_of, sync
from services.payroll._rates import Rates
from services.payroll._view import SheetView, build_view, buttons
from services.people import Among, PeopleService, fold

log = logging.getLogger(__name__)

EDITABLE = (PaySheetStatus.DRAFT, PaySheetStatus.SUBMITTED)


def live_key(event_id: int, person_id: int) -> str:
    """One sheet message per manager and event, edited in place."""
    return f"paysheet:{event_id}:{person_id}"


@dataclass(frozen=True)
class Changed:
    person: Person
    line: PayLine
    sheet: PaySheet
    change: Change
    new_version: bool  # the change made a new version of an approved sheet
    reopened: bool  # the change sent a submitted sheet back to draft


async def locked_sheet(sheet_id: int, conn: BaseDBAsyncClient) -> PaySheet:
    sheet = await PaySheet.filter(id=sheet_id).select_for_update().using_db(conn).first()
    if sheet is None:
        raise SheetNotFound(f"There is no pay sheet #{sheet_id}. Send /payruns for the list.")
    return sheet


class PayrollService:
    def __init__(
        self,
        notifier: Notifier,
        clock: Clock,
        *,
        approvals: int = 1,
        board_url: str | None = None,  # the Mini App (https only): the sheet's "Open board"
    ) -> None:
        self.notifier = notifier
        self.clock = clock
        self.approvals = approvals
        self.board_url = board_url
        self.rates = Rates(clock)

    # --- opening ----------------------------------------------------------------------

    async def _event(self, event_id: int) -> Event:
        event = await Event.get_or_none(id=event_id)
        if event is None:
            raise SheetNotFound(f"There is no event #{event_id}. Send /events for the list.")
        return event

    async def open(self, actor: Person, event_id: int, *, chat_id: int | None = None) -> PaySheet:
        """The event's current version (built on first use; a draft brought up to date),
        sent as a new sheet message at the bottom of the manager's chat."""
        require_manager(actor, "prepare pay sheets")
        event = await self._event(event_id)
        for attempt in range(2):
            try:
                async with in_transaction() as conn:
                    sheet = await self._current(event, actor, conn, chat_id=chat_id)
                    await (
                        LiveMessage.filter(key=live_key(event.id, actor.id)).using_db(conn).delete()
                    )
                    await self.publish(actor, sheet, conn)
                    return sheet
            except IntegrityError:  # another manager built version 1 at the same moment
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _current(
        self, event: Event, actor: Person, conn: BaseDBAsyncClient, *, chat_id: int | None
    ) -> PaySheet:
        found = (
            await PaySheet.filter(event_id=event.id)
            .order_by("-version")
            .select_for_update()
            .using_db(conn)
            .first()
        )
        now = self.clock.now()
        if found is None:
            if event.status is EventStatus.CANCELLED:
                raise SheetClosed(f"Event #{event.id} was cancelled: there is no crew to pay.")
            found = await PaySheet.create(
                event=event,
                version=1,
                prepared_by=actor,
                created_at=now,
                updated_at=now,
                using_db=conn,
            )
            await audit.record(
                AuditAction.PAYROLL_BUILT,
                "pay_sheet",
                found.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"event": event.id, "version": 1},
                using_db=conn,
            )
        if found.status is PaySheetStatus.DRAFT:
            await sync(found, conn, now)
        return found

    async def show(
        self,
        actor: Person,
        sheet_id: int,
        page: int,
        *,
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> PaySheet:
        """Turn the sheet message to `page`. `message_id`: the sheet message pressed, which
        becomes the one kept up to date (an older copy higher up the chat turns its own page
        instead of the newest copy's)."""
        require_manager(actor, "see pay sheets")
        async with in_transaction() as conn:
            sheet = await locked_sheet(sheet_id, conn)
            if chat_id is not None and message_id is not None:
                await LiveMessage.update_or_create(
                    defaults={
                        "chat_id": chat_id,
                        "message_id": message_id,
                        "updated_at": self.clock.now(),
                    },
                    key=live_key(sheet.event_id, actor.id),  # type: ignore[attr-defined]
                    using_db=conn,
                )
            await self.publish(actor, sheet, conn, page=page)
        return sheet

    # --- changing a line --------------------------------------------------------------

    async def change(
        self,
        actor: Person,
        event_id: int,
        who: str,
        change_text: str,
        *,
        chat_id: int | None = None,
    ) -> Changed:
        """Change one person's line. A draft changes in place; a submitted sheet goes back
        to draft; an approved one is superseded by a new draft version (its queued payouts
        withdrawn), unless paying it has begun."""
        require_manager(actor, "change pay sheets")
        change = parse_change(change_text)
        event = await self._event(event_id)
        now = self.clock.now()
        async with in_transaction() as conn:
            sheet = await self._current(event, actor, conn, chat_id=chat_id)
            new_version = reopened = False
            if sheet.status is PaySheetStatus.APPROVED:
                sheet = await self._next_version(sheet, actor, conn, chat_id=chat_id)
                new_version = True
            elif sheet.status is PaySheetStatus.SUBMITTED:
                reopened = True
            elif sheet.status not in EDITABLE:
                raise SheetClosed(
                    f"Version {sheet.version} of #{event.id}'s pay sheet is "
                    f"{sheet.status.value}: it can no longer change."
                )
            person = await self._who(who, sheet, conn)
            line = (
                await PayLine.filter(sheet_id=sheet.id, person_id=person.id).using_db(conn).first()
            )
            if line is None:
                raise NotOnSheet(
                    f"{person.name} is not on #{event.id}'s pay sheet: only confirmed crew are."
                )
            apply_change(line, change, person.name)
            line.updated_at = now
            await line.save(using_db=conn)
            if reopened:
                await (
                    PaySheet.filter(id=sheet.id)
                    .using_db(conn)
                    .update(
                        status=PaySheetStatus.DRAFT,
                        submitted_by_id=None,
                        submitted_at=None,
                        updated_at=now,
                    )
                )
                sheet.status = PaySheetStatus.DRAFT
                sheet.submitted_by_id = None
                await audit.record(
                    AuditAction.PAYROLL_REOPENED,
                    "pay_sheet",
                    sheet.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={"version": sheet.version},
                    using_db=conn,
                )
            await audit.record(
                AuditAction.PAYROLL_LINE_CHANGED,
                "pay_sheet",
                sheet.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                using_db=conn,
                details={
                    "person": person.id,
                    "change": change.describe(),
                    "net": line.net,
                    "deduction": line.deduction,
                    "left_out": line.left_out,
                },
            )
            await self.publish(actor, sheet, conn, focus=person.id)
        return Changed(person, line, sheet, change, new_version, reopened)

    async def _who(self, who: str, sheet: PaySheet, conn: BaseDBAsyncClient) -> Person:
        """A name is looked for among the sheet's people first ("Otieno" means the crew
        member on it, not the manager who shares the name); else `PeopleService.find`."""
        wanted = fold(" ".join(who.split()))
        on_sheet = [line.person for line in await lines_of(sheet.id, conn)]
        if wanted and not wanted.lstrip("#").isdigit():
            exact = [p for p in on_sheet if fold(p.name) == wanted]
            partly = [p for p in on_sheet if wanted in fold(p.name)]
            for found in (exact, partly):
                if len(found) == 1:
                    person: Person = found[0]
                    return person
        return await PeopleService.find(who, among=Among.EVERYONE)

    async def _next_version(
        self, old: PaySheet, actor: Person, conn: BaseDBAsyncClient, *, chat_id: int | None
    ) -> PaySheet:
        """Supersede an approved version with a draft copy, withdrawing its queued payouts;
        refused once any of them has been claimed for sending."""
        now = self.clock.now()
        await (
            Payout.filter(sheet_id=old.id, status=PayoutStatus.QUEUED)
            .using_db(conn)
            .update(status=PayoutStatus.CANCELLED, updated_at=now)
        )
        if (
            await Payout.filter(sheet_id=old.id)
            .exclude(status=PayoutStatus.CANCELLED)
            .using_db(conn)
            .exists()
        ):
            raise SheetClosed(
                f"Paying version {old.version} has begun, so it can no longer change."
            )
        moved = (
            await PaySheet.filter(id=old.id, status=PaySheetStatus.APPROVED)
            .using_db(conn)
            .update(status=PaySheetStatus.SUPERSEDED, updated_at=now)
        )
        if not moved:
            raise SheetClosed(f"Version {old.version} changed meanwhile; send it again.")
        new = await PaySheet.create(
            event_id=old.event_id,  # type: ignore[attr-defined]
            version=old.version + 1,
            supersedes=old,
            prepared_by=actor,
            created_at=now,
            updated_at=now,
            using_db=conn,
        )
        await copy_lines(old, new, conn, now)
        await sync(new, conn, now)
        for action, sheet in (
            (AuditAction.PAYROLL_SUPERSEDED, old),
            (AuditAction.PAYROLL_BUILT, new),
        ):
            await audit.record(
                action,
                "pay_sheet",
                sheet.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"event": old.event_id, "version": sheet.version},  # type: ignore[attr-defined]
                using_db=conn,
            )
        return new

    # --- submit and approve -----------------------------------------------------------

    async def submit(self, actor: Person, sheet_id: int, *, chat_id: int | None = None) -> PaySheet:
        require_manager(actor, "submit pay sheets")
        async with in_transaction() as conn:
            sheet = await locked_sheet(sheet_id, conn)
            others = await submit_locked(self, sheet, actor, conn, chat_id=chat_id)
            await self.publish(actor, sheet, conn)
            for manager in others:
                await self._tell(manager, "waiting", sheet, actor, conn)
        return sheet

    async def approve(
        self, actor: Person, sheet_id: int, *, chat_id: int | None = None
    ) -> PaySheet:
        require_manager(actor, "approve pay sheets")
        async with in_transaction() as conn:
            sheet = await locked_sheet(sheet_id, conn)
            await approve_locked(self, sheet, actor, conn, chat_id=chat_id)
            await self.publish(actor, sheet, conn)
            submitter = sheet.submitted_by_id  # type: ignore[attr-defined]
            if submitter is not None and submitter != actor.id:
                who = await Person.filter(id=submitter).using_db(conn).get()
                # The sheet message they submitted from says approved too, not "waiting".
                key = live_key(sheet.event_id, who.id)  # type: ignore[attr-defined]
                if await LiveMessage.filter(key=key).using_db(conn).exists():
                    await self.publish(who, sheet, conn)
                await self._tell(who, "approved", sheet, actor, conn)
        return sheet

    # --- the message ------------------------------------------------------------------

    async def view(
        self,
        sheet: PaySheet,
        conn: BaseDBAsyncClient | None = None,
        *,
        page: int = 0,
        focus: int | None = None,
    ) -> SheetView:
        event = await Event.filter(id=sheet.event_id).using_db(conn).get()  # type: ignore[attr-defined]
        lines = await lines_of(sheet.id, conn)
        people = {line.person.id: line.person for line in lines}
        staff = {
            pid
            for pid in (sheet.prepared_by_id, sheet.submitted_by_id, sheet.approved_by_id)  # type: ignore[attr-defined]
            if pid is not None and pid not in people
        }
        for p in await Person.filter(id__in=sorted(staff) or [0]).using_db(conn):
            people[p.id] = p
        latest: dict[int, Payout] = {}
        if sheet.status not in (PaySheetStatus.DRAFT, PaySheetStatus.SUBMITTED):
            for payout in (
                await Payout.filter(sheet_id=sheet.id)
                .exclude(status=PayoutStatus.CANCELLED)
                .order_by("attempt")
                .using_db(conn)
            ):
                latest[payout.line_id] = payout  # type: ignore[attr-defined]
        return build_view(
            sheet,
            event,
            lines,
            people,
            approvals=self.approvals,
            page=page,
            focus_person_id=focus,
            payouts=latest,
        )

    async def publish(
        self,
        actor: Person,
        sheet: PaySheet,
        conn: BaseDBAsyncClient,
        *,
        page: int = 0,
        focus: int | None = None,
    ) -> None:
        fresh = await PaySheet.filter(id=sheet.id).using_db(conn).get()
        current = await self.view(fresh, conn, page=page, focus=focus)
        await self.notifier.notify(
            actor,
            NotificationKind.PAY_SHEET,
            {"view": current},
            buttons=buttons(current, self.board_url),
            live_key=live_key(current.event.id, actor.id),
            channels=(Channel.TELEGRAM,),
            using_db=conn,
        )

    async def _tell(
        self, manager: Person, state: str, sheet: PaySheet, actor: Person, conn: BaseDBAsyncClient
    ) -> None:
        event = await Event.filter(id=sheet.event_id).using_db(conn).get()  # type: ignore[attr-defined]
        context: dict[str, Any] = {"state": state, "sheet": sheet, "event": event, "actor": actor}
        await self.notifier.notify(
            manager,
            NotificationKind.PAYROLL_APPROVAL,
            context,
            dedupe_key=f"payroll:{sheet.id}:{state}:{manager.id}",
            using_db=conn,
        )
