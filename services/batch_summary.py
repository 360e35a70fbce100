"""The live summary of an event's payment request: one message to the manager, rewritten in
place whenever any member's payment changes state (push answered, callback, reconciliation,
a resend).

It is rendered in the transaction that changed the payment, after locking the batch row, so
two payments of one batch settling at the same moment write their summaries one after the
other, and the later one sees both changes (the outbox keeps only the newest pending edit).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient

from models import (
    BatchMemberStatus,
    Channel,
    Event,
    EventStatus,
    NotificationKind,
    Payment,
    PaymentBatch,
    PaymentBatchMember,
    PaymentStatus,
    Person,
)
from services.buttons.payments import ResendFailed, SendAnyway
from services.notifications import Button, Keyboard, Notifier

# Telegram refuses more than 4,096 characters; lines are cut well before, leaving room for
# the header (event title ≤ 120, purpose ≤ 100) and the HTML tags.
LINES_BUDGET = 3_300
NAME_MAX = 40
DETAIL_MAX = 90
REPEAT_SKIP = "skipped: asked for"  # the start of a repeat's reason; "Send anyway" asks them
RESENDABLE = (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.TIMEOUT)


class Bucket(StrEnum):
    PAID = "paid"
    WAITING = "waiting"  # pushed; waiting for the PIN (or for M-Pesa's answer)
    TO_SEND = "to send"  # not pushed yet
    CANCELLED = "cancelled"
    FAILED = "failed"
    UNKNOWN = "not known"
    FLAGGED = "flagged"  # paid, but not credited: a manager must look
    SKIPPED = "skipped"


# Counts read in this order ("3 paid · 1 waiting · 1 cancelled"); lines list problems first.
COUNT_ORDER = list(Bucket)
LINE_ORDER = [
    Bucket.FAILED,
    Bucket.CANCELLED,
    Bucket.FLAGGED,
    Bucket.UNKNOWN,
    Bucket.SKIPPED,
    Bucket.WAITING,
    Bucket.TO_SEND,
    Bucket.PAID,
]
MARKS = {
    Bucket.PAID: "✅",
    Bucket.WAITING: "⏳",
    Bucket.TO_SEND: "⏳",
    Bucket.UNKNOWN: "⏳",
}


@dataclass(frozen=True)
class Line:
    bucket: Bucket
    name: str
    detail: str

    @property
    def html(self) -> str:
        mark = MARKS.get(self.bucket, "❌")
        return f"{mark} {html.escape(self.name)} · {html.escape(self.detail)}"


@dataclass(frozen=True)
class BatchView:
    batch: PaymentBatch
    event: Event
    lines: list[Line]  # every member, problems first
    counts: dict[Bucket, int]
    collected: int
    resendable: int  # members whose latest payment failed, was cancelled or timed out
    repeats: int = 0  # members skipped as asked moments ago: "Send anyway" asks them

    @property
    def counts_text(self) -> str:
        return " · ".join(f"{self.counts[b]} {b.value}" for b in COUNT_ORDER if self.counts.get(b))

    @property
    def expected(self) -> int:
        asked = len(self.lines) - self.counts.get(Bucket.SKIPPED, 0)
        return self.batch.amount * asked

    @property
    def finished(self) -> bool:
        return not (self.counts.get(Bucket.WAITING) or self.counts.get(Bucket.TO_SEND))

    def shown(self) -> tuple[list[str], str | None]:
        """The lines that fit one message, and what the cut-off ones were, counted."""
        shown: list[str] = []
        used = 0
        for index, line in enumerate(self.lines):
            text = line.html
            if used + len(text) + 1 > LINES_BUDGET:
                rest = self.lines[index:]
                tally = {b: sum(1 for r in rest if r.bucket is b) for b in COUNT_ORDER}
                parts = ", ".join(f"{n} {b.value}" for b, n in tally.items() if n)
                return shown, f"…and {len(rest)} more ({parts}). /payments lists everyone."
            shown.append(text)
            used += len(text) + 1
        return shown, None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _line(member: PaymentBatchMember, person: Person, payment: Payment | None) -> Line:
    name = _cut(person.name, NAME_MAX)
    if member.status is BatchMemberStatus.SKIPPED:
        return Line(Bucket.SKIPPED, name, _cut(member.reason or "skipped", DETAIL_MAX))
    if member.status is BatchMemberStatus.QUEUED or payment is None:
        detail = "to be sent again" if member.resend_of_id else "not asked yet"  # type: ignore[attr-defined]
        return Line(Bucket.TO_SEND, name, detail)
    ref = f" (#{payment.id})"
    status = payment.status
    if status is PaymentStatus.COMPLETED and payment.flag_reason:
        detail = f"paid but not credited: {payment.flag_reason}"
        return Line(Bucket.FLAGGED, name, _cut(detail, DETAIL_MAX) + ref)
    if status is PaymentStatus.COMPLETED:
        return Line(Bucket.PAID, name, f"receipt {payment.receipt or 'not yet known'}")
    if status is PaymentStatus.INITIATED:
        return Line(Bucket.WAITING, name, "sending the prompt…")
    if status is PaymentStatus.PENDING:
        return Line(Bucket.WAITING, name, "waiting for PIN")
    reason = _cut(payment.error or status.value, DETAIL_MAX) + ref
    if status is PaymentStatus.UNKNOWN:
        return Line(Bucket.UNKNOWN, name, reason)
    if status is PaymentStatus.CANCELLED:
        return Line(Bucket.CANCELLED, name, reason)
    return Line(Bucket.FAILED, name, reason)


async def view(batch_id: int, conn: BaseDBAsyncClient, *, lock: bool = False) -> BatchView:
    query = PaymentBatch.filter(id=batch_id).using_db(conn)
    if lock and conn.capabilities.dialect == "postgres":
        # NO KEY: payments inserted in this batch hold a key-share lock on the row (their
        # foreign key); a plain FOR UPDATE would deadlock two of them against each other.
        query = query.select_for_update(no_key=True)
    batch = await query.get()
    event = await Event.filter(id=batch.event_id).using_db(conn).get()  # type: ignore[attr-defined]
    members = await PaymentBatchMember.filter(batch_id=batch.id).using_db(conn).order_by("id")
    people = {
        p.id: p
        for p in await Person.filter(id__in=[m.person_id for m in members]).using_db(conn)  # type: ignore[attr-defined]
    }
    latest: dict[int, Payment] = {}
    for row in await Payment.filter(batch_id=batch.id).using_db(conn).order_by("id"):
        latest[row.person_id] = row  # type: ignore[attr-defined]
    lines: list[Line] = []
    collected = resendable = repeats = 0
    for member in members:
        payment = latest.get(member.person_id)  # type: ignore[attr-defined]
        line = _line(member, people[member.person_id], payment)  # type: ignore[attr-defined]
        lines.append(line)
        if line.bucket is Bucket.PAID and payment is not None:
            collected += payment.paid_amount or payment.amount
        if member.status is BatchMemberStatus.SKIPPED and (member.reason or "").startswith(
            REPEAT_SKIP
        ):
            repeats += 1
        if (
            member.status is BatchMemberStatus.ASKED
            and payment is not None
            and payment.status in RESENDABLE
        ):
            resendable += 1
    lines.sort(key=lambda line: (LINE_ORDER.index(line.bucket), line.name.lower()))
    counts = {b: sum(1 for line in lines if line.bucket is b) for b in COUNT_ORDER}
    return BatchView(batch, event, lines, counts, collected, resendable, repeats)


def buttons(view: BatchView) -> Keyboard:
    row: list[Button] = []
    if view.resendable:
        resend = ResendFailed(view.batch.id).pack()
        row.append(Button(f"Resend failed ones ({view.resendable})", resend))
    if view.repeats and view.event.status is not EventStatus.CANCELLED:
        row.append(Button(f"Send anyway ({view.repeats})", SendAnyway(view.batch.id).pack()))
    return [row] if row else []


def live_key(batch_id: int) -> str:
    return f"batch:{batch_id}:mgr"


async def refresh(notifier: Notifier, batch_id: int, conn: BaseDBAsyncClient) -> None:
    """Queue the summary as it is now, in the caller's transaction."""
    current = await view(batch_id, conn, lock=True)
    manager = await Person.filter(id=current.batch.requested_by_id).using_db(conn).get()  # type: ignore[attr-defined]
    shown, more = current.shown()
    await notifier.notify(
        manager,
        NotificationKind.PAYMENT_BATCH,
        {"view": current, "shown": shown, "more": more},
        buttons=buttons(current),
        live_key=live_key(batch_id),
        channels=(Channel.TELEGRAM,),
        using_db=conn,
    )
