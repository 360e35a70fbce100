"""One audit row as an /activity line: who (a person, or M-Pesa) and what, in plain words.

The rows of a page are read first, then what they are about (assignments, payments, payouts,
pay sheets, events, people) in one query per kind, so a page costs the same few queries
whatever it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models import (
    Assignment,
    AuditAction,
    AuditLog,
    Event,
    Payment,
    Payout,
    PaySheet,
    Person,
    RecordedPayment,
)

A = AuditAction


def event_label(event: Event | None) -> str:
    return f"EV{event.id} {event.title}" if event is not None else "an event"


def _kes(amount: Any) -> str:
    try:
        return f"KES {int(amount):,}"
    except (TypeError, ValueError):
        return "money"


@dataclass
class Subjects:
    """What a page's rows are about, by id."""

    assignments: dict[int, Assignment] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)
    payouts: dict[int, Payout] = field(default_factory=dict)
    sheets: dict[int, PaySheet] = field(default_factory=dict)
    events: dict[int, Event] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)
    recorded: dict[int, RecordedPayment] = field(default_factory=dict)

    @classmethod
    async def load(cls, rows: list[AuditLog]) -> Subjects:
        ids: dict[str, set[int]] = {}
        for row in rows:
            if row.subject_id is not None:
                ids.setdefault(row.subject_type, set()).add(row.subject_id)

        def of(kind: str) -> list[int]:
            return sorted(ids.get(kind, ())) or [0]

        found = cls()
        found.assignments = {
            a.id: a
            for a in await Assignment.filter(id__in=of("assignment")).select_related(
                "person", "event"
            )
        }
        found.payments = {
            p.id: p for p in await Payment.filter(id__in=of("payment")).select_related("person")
        }
        found.payouts = {
            p.id: p
            for p in await Payout.filter(id__in=of("payout")).select_related(
                "line__person", "sheet__event"
            )
        }
        found.sheets = {
            s.id: s for s in await PaySheet.filter(id__in=of("pay_sheet")).select_related("event")
        }
        found.events = {e.id: e for e in await Event.filter(id__in=of("event"))}
        found.people = {p.id: p for p in await Person.filter(id__in=of("person"))}
        found.recorded = {
            r.id: r
            for r in await RecordedPayment.filter(id__in=of("recorded_payment")).select_related(
                "person"
            )
        }
        return found


_PERSON_DONE = {
    A.PERSON_ADDED: "added {person}",
    A.PERSON_EDITED: "edited {person}'s details",
    A.PERSON_ACCESS_CHANGED: "changed {person}'s access",
    A.PERSON_DEACTIVATED: "deactivated {person}",
    A.PERSON_REACTIVATED: "reactivated {person}",
    A.PERSON_LINK_ISSUED: "sent {person} a Telegram link",
    A.PERSON_LINK_REFUSED: "tried an old Telegram link of {person}'s (refused)",
    A.PERSON_LINKED: "linked their Telegram",
    A.PERSON_CHAT_UNREACHABLE: "could not reach {person} on Telegram (email from now on)",
    A.PERSON_CHAT_REACHABLE: "can be reached on Telegram again",
    A.RATE_SET: "set {person}'s own day rate",
    A.RATE_CLEARED: "cleared {person}'s own day rate",
    A.LEDGER_CHARGE: "charged {person} {amount}: {reason}",
    A.LEDGER_UNCHARGE: "undid a charge of {amount} to {person}: {reason}",
}
_EVENT_DONE = {
    A.EVENT_CREATED: "created {event}",
    A.EVENT_EDITED: "edited {event}",
    A.EVENT_CANCELLED: "cancelled {event}",
    A.EVENT_COMPLETED: "marked {event} completed",
    A.EVENT_REMINDED: "sent the crew of {event} a reminder",
    A.EVENT_BRIEFED: "sent the crew of {event} the briefing",
    A.PAYMENT_BATCH_STARTED: "asked the crew of {event} for {amount} each",
    A.PAYMENT_BATCH_RESEND: "asked the crew of {event} to pay again",
    A.PAYMENT_BATCH_SEND_ANYWAY: "asked the crew of {event} to pay, anyway",
}
_SHEET_DONE = {
    A.PAYROLL_BUILT: "prepared the pay sheet for {event}",
    A.PAYROLL_LINE_CHANGED: "changed a line of the pay sheet for {event}",
    A.PAYROLL_REOPENED: "reopened the pay sheet for {event}",
    A.PAYROLL_SUBMITTED: "submitted the pay sheet for {event}",
    A.PAYROLL_APPROVED: "approved the pay sheet for {event}",
    A.PAYROLL_SUPERSEDED: "replaced the pay sheet for {event} with a new version",
    A.PAYROLL_PAY_STARTED: "started paying the crew of {event}",
    A.PAYROLL_STOPPED: "stopped paying the crew of {event}: {reason}",
    A.PAYROLL_PAID: "paid every line of the pay sheet for {event}",
}
_UNPAID = {
    A.PAYMENT_FAILED: "failed",
    A.PAYMENT_CANCELLED: "cancelled by the payer",
    A.PAYMENT_TIMEOUT: "no answer from the phone",
    A.PAYMENT_UNKNOWN: "outcome unknown",
}


def describe(row: AuditLog, subjects: Subjects) -> tuple[str, str]:
    """(who, what): "Jane Wanjiku", "confirmed sound engineer at EV12 Afro Night"."""
    d: dict[str, Any] = row.details or {}
    who, action, sid = row.actor_label, row.action, row.subject_id or 0
    values = {"amount": _kes(d.get("amount")), "reason": d.get("reason") or "no reason given"}

    if row.subject_type == "assignment" and sid in subjects.assignments:
        a = subjects.assignments[sid]
        at = f"{a.role} at {event_label(a.event)}"
        if action is A.ASSIGNMENT_CONFIRMED:
            return who, f"confirmed {at}"
        if action is A.ASSIGNMENT_DECLINED:
            return who, f"declined {at}" + (
                " after confirming" if d.get("from") == "confirmed" else ""
            )
        if action is A.ASSIGNMENT_REASON:
            return who, f"said why they declined {event_label(a.event)}: {d.get('reason')}"
        if action is A.ASSIGNMENT_BRIEFING_READ:
            return who, f"read the briefing for {event_label(a.event)}"
        if action is A.ASSIGNMENT_INVITED:
            return who, f"invited {a.person.name} as {at}"
        if action is A.ASSIGNMENT_REINVITED:
            return who, f"invited {a.person.name} again as {at}"
        if action is A.ASSIGNMENT_CANCELLED:
            return who, f"took {a.person.name} off {event_label(a.event)}"

    if row.subject_type == "payment" and sid in subjects.payments:
        p = subjects.payments[sid]
        payer = p.person.name if p.person else p.phone
        if action is A.PAYMENT_REQUESTED:
            return who, f"asked {payer} for {_kes(p.amount)} ({p.purpose})"
        if action is A.PAYMENT_COMPLETED:
            receipt = f", M-Pesa {p.receipt}" if p.receipt else ""
            return payer, f"paid {_kes(p.paid_amount or p.amount)} (payment #{p.id}{receipt})"
        if action in _UNPAID:
            return payer, f"did not pay {_kes(p.amount)} (payment #{p.id}: {_UNPAID[action]})"
        if action is A.PAYMENT_PENDING:
            return "M-Pesa", f"sent {payer} the prompt for {_kes(p.amount)}"
        if action is A.PAYMENT_FLAG_RESOLVED:
            return who, f"resolved the flag on payment #{p.id} from {payer}"

    if row.subject_type == "payout" and sid in subjects.payouts:
        o = subjects.payouts[sid]
        name, wages = o.line.person.name, f"{_kes(o.amount)} wages for {event_label(o.sheet.event)}"
        if action is A.PAYOUT_PAID:
            return name, f"was paid {wages} (M-Pesa {o.transaction_id})"
        if action is A.PAYOUT_FAILED:
            return name, f"could not be paid {wages}: {d.get('reason') or 'failed'}"
        if action is A.PAYOUT_UNKNOWN:
            return "M-Pesa", f"is checking {name}'s {wages}"

    if row.subject_type == "pay_sheet" and sid in subjects.sheets and action in _SHEET_DONE:
        return who, _SHEET_DONE[action].format(
            event=event_label(subjects.sheets[sid].event), **values
        )

    if row.subject_type == "event" and action in _EVENT_DONE:
        event = subjects.events.get(sid)
        return who, _EVENT_DONE[action].format(event=event_label(event), **values)

    if row.subject_type == "person" and action in _PERSON_DONE:
        person = subjects.people.get(sid)
        name = person.name if person is not None else "someone"
        return who, _PERSON_DONE[action].format(person=name, **values)

    if row.subject_type == "recorded_payment" and sid in subjects.recorded:
        r = subjects.recorded[sid]
        if action is A.LEDGER_RECORDED:
            return (
                who,
                f"recorded {_kes(r.amount)} from {r.person.name} ({r.method.value}, {r.reference})",
            )
        if action is A.LEDGER_UNRECORDED:
            return (
                who,
                f"undid recorded payment #{r.id} ({_kes(r.amount)} from {r.person.name}): {values['reason']}",
            )

    if row.subject_type == "deposit" and action is A.PAYMENT_REQUESTED:
        parts = d.get("instalments") or 1
        split = f" in {parts} monthly instalments" if parts > 1 else ""
        return who, (
            f"asked {d.get('client')} for a deposit of {_kes(d.get('total'))}{split} "
            f"(deposit #{sid}, event #{d.get('event')})"
        )
    if action is A.INVOICE_CREATED:
        return who, f"made invoice {d.get('number')} for {_kes(d.get('total'))}"
    if action is A.CHECKOUT_RELINKED:
        return who, f"made a new payment link for {d.get('what')} ({d.get('client')})"
    if action is A.INVOICE_PAID:
        return who, f"paid invoice {d.get('number')} in full ({_kes(d.get('total'))}) by M-Pesa"
    if action is A.RECONCILIATION_IMPORTED:
        return who, "reconciled an M-Pesa statement"
    if action is A.OUTBOX_RESENT:
        return who, "sent a failed message again"
    # Anything newer than this list still reads: "payment receipt", "rate set".
    return who, action.value.replace(".", " ").replace("_", " ")
