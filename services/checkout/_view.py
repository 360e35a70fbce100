"""What a checkout page shows, read from the deposit's payments: the schedule, what is paid,
and the state of the latest prompt. Nothing here writes but a deposit's PAID status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from models import (
    Deposit,
    DepositStatus,
    Event,
    Instalment,
    InstalmentPayment,
    Invoice,
    Payment,
    PaymentStatus,
    Receipt,
)
from services.payments.states import OPEN

STILL_WAITING_AFTER = timedelta(seconds=90)

# Daraja's result codes as the client reads them; anything else: "M-Pesa could not take it".
CLIENT_REASONS = {
    1: "There was not enough money in your M-Pesa account.",
    4: "Your daily M-Pesa limit is reached.",
    17: "A payment of the same amount was made moments ago. Wait two minutes, then try again.",
    26: "M-Pesa is busy right now. Try again in a minute.",
    1001: "Another M-Pesa prompt was open on your phone. Wait a minute, then try again.",
    1019: "The prompt expired before the PIN was entered.",
    1032: "You cancelled the prompt.",
    1037: "Your phone could not be reached, or the prompt was not answered in time.",
    2001: "The M-Pesa PIN was wrong.",
    8006: "Your M-Pesa PIN is locked. Contact Safaricom, then try again.",
}


class State(StrEnum):
    READY = "ready"  # nothing in flight: Pay
    WAITING = "waiting"  # a prompt is on the phone
    STILL_WAITING = "still_waiting"  # no answer after 90 s: never "failed" until settled
    PAID = "paid"  # the latest prompt was paid (more may be due later)
    FAILED = "failed"  # the latest prompt failed or was cancelled: Try again
    UNCONFIRMED = "unconfirmed"  # M-Pesa could not tell us; the manager is checking
    DONE = "done"  # every instalment paid


@dataclass(frozen=True)
class Line:
    instalment: Instalment
    paid_by: Payment | None  # the completed payment, if paid
    receipt: str | None  # our receipt number


@dataclass(frozen=True)
class CheckoutView:
    deposit: Deposit
    event: Event
    invoice: Invoice | None  # the invoice this checkout pays, or None for a deposit
    lines: list[Line]
    latest: Payment | None  # the deposit's latest prompt
    last_paid: Payment | None  # the latest paid one (a late success may follow a failure)
    receipt: str | None  # our receipt number of `last_paid`
    state: State
    now: datetime
    seen: tuple[tuple[int, str], ...]  # each payment and its status, as `changed` compares

    @property
    def in_flight(self) -> bool:
        return self.state in (State.WAITING, State.STILL_WAITING)

    @property
    def current(self) -> Line | None:
        """The instalment Pay pays: the first one not paid."""
        return next((line for line in self.lines if line.paid_by is None), None)

    @property
    def what(self) -> str:
        """What is paid, as the page and the chat name it: "Deposit" or "Invoice INV-…"."""
        return f"Invoice {self.invoice.number}" if self.invoice else "Deposit"

    def part(self, line: Line) -> str:
        """One line of it: "Deposit", "Instalment 2 of 3", "Payment 2 of 3" (an invoice)."""
        count = len(self.lines)
        if count == 1:
            return self.what
        return f"{'Payment' if self.invoice else 'Instalment'} {line.instalment.number} of {count}"

    def told(self, instalment: Instalment, *, missed: bool) -> dict[str, object]:
        """What the manager's message about `instalment` (due today, or missed) shows."""
        line = next(x for x in self.lines if x.instalment.id == instalment.id)
        return {
            "part": self.part(line),
            "what": self.what,
            "invoice": self.invoice,
            # What /paylink takes for a new link: the invoice's number, or the deposit's.
            "ref": self.invoice.number if self.invoice else self.deposit.id,
            "deposit": self.deposit,
            "event": self.event,
            "instalment": instalment,
            "count": len(self.lines),
            "paid_total": self.paid_total,
            "missed": missed,
            "expired": self.deposit.expires_at <= self.now,
        }

    @property
    def paid_total(self) -> int:
        return sum(line.instalment.amount for line in self.lines if line.paid_by is not None)

    @property
    def reason(self) -> str | None:
        latest = self.latest
        if latest is None or self.state is not State.FAILED:
            return None
        known = CLIENT_REASONS.get(latest.result_code or -1)
        if known:
            return known
        if latest.result_code is None:
            return "M-Pesa could not send the prompt. Try again in a minute."
        return "M-Pesa did not take the payment. Try again, or contact us."

    @property
    def key(self) -> str:
        """Changes whenever what the page shows changes (the live updates compare it)."""
        latest = f"{self.latest.id}:{self.latest.status.value}" if self.latest else "-"
        paid = ",".join(str(line.instalment.number) for line in self.lines if line.paid_by)
        return f"{self.state.value}|{latest}|{paid}"


async def load_view(deposit: Deposit, now: datetime) -> CheckoutView:
    event = await Event.get(id=deposit.event_id)  # type: ignore[attr-defined]
    invoice_id = deposit.invoice_id  # type: ignore[attr-defined]
    invoice = await Invoice.get(id=invoice_id) if invoice_id else None
    instalments = await Instalment.filter(deposit_id=deposit.id).order_by("number")
    links = await InstalmentPayment.filter(instalment__deposit_id=deposit.id).order_by("id")
    payments = {p.id: p for p in await Payment.filter(id__in=[x.payment_id for x in links])}  # type: ignore[attr-defined]
    completed = [p.id for p in payments.values() if p.status is PaymentStatus.COMPLETED]
    receipts: dict[int, str] = dict(
        await Receipt.filter(payment_id__in=completed).values_list("payment_id", "number")
    )
    paid_by: dict[int, Payment] = {}
    for link in links:
        payment = payments[link.payment_id]  # type: ignore[attr-defined]
        if payment.status is PaymentStatus.COMPLETED:
            paid_by.setdefault(link.instalment_id, payment)  # type: ignore[attr-defined]
    lines = [
        Line(i, paid_by.get(i.id), receipts.get(paid_by[i.id].id) if i.id in paid_by else None)
        for i in instalments
    ]
    latest = payments[links[-1].payment_id] if links else None  # type: ignore[attr-defined]
    done = [payments[x.payment_id] for x in links]  # type: ignore[attr-defined]
    last_paid = next((p for p in reversed(done) if p.status is PaymentStatus.COMPLETED), None)
    state = _state(latest, lines, now)
    if state is State.DONE and deposit.status is DepositStatus.OPEN:
        await Deposit.filter(id=deposit.id, status=DepositStatus.OPEN).update(
            status=DepositStatus.PAID, updated_at=now
        )
        deposit.status = DepositStatus.PAID
    return CheckoutView(
        deposit=deposit,
        event=event,
        invoice=invoice,
        lines=lines,
        latest=latest,
        last_paid=last_paid,
        receipt=receipts.get(last_paid.id) if last_paid else None,
        state=state,
        now=now,
        seen=tuple((x.payment_id, payments[x.payment_id].status.value) for x in links),  # type: ignore[attr-defined]
    )


async def changed(view: CheckoutView, now: datetime) -> bool:
    """Whether the page would show something else now: one query, for the live streams
    (the whole view is read again only then)."""
    latest = view.latest
    if view.state is State.WAITING and latest and now - latest.created_at >= STILL_WAITING_AFTER:
        return True
    rows = (
        await InstalmentPayment.filter(instalment__deposit_id=view.deposit.id)
        .order_by("id")
        .values_list("payment_id", "payment__status")
    )
    seen = tuple((payment_id, str(status)) for payment_id, status in rows)
    return seen != view.seen


def _state(latest: Payment | None, lines: list[Line], now: datetime) -> State:
    if latest is not None and latest.status in (PaymentStatus.INITIATED, PaymentStatus.PENDING):
        waited = now - latest.created_at
        return State.STILL_WAITING if waited >= STILL_WAITING_AFTER else State.WAITING
    if all(line.paid_by is not None for line in lines):
        return State.DONE
    if latest is None:
        return State.READY
    if latest.status is PaymentStatus.COMPLETED:
        return State.PAID
    if latest.status in OPEN:  # UNKNOWN: M-Pesa gave no answer we could read
        return State.UNCONFIRMED
    return State.FAILED
