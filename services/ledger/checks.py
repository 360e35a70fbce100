"""The money audit (`callsheet audit`, and every payments test on teardown): each balance
equals its ledger, each credited payment has exactly one entry, each recorded payment its
credit (and its reversal once undone), no money M-Pesa reported went unmatched, every
movement has its receipt, and document numbers have no gaps. It only
reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum

from models import (
    CallbackStatus,
    DarajaCallback,
    DocumentCounter,
    DocumentSeries,
    Invoice,
    LedgerEntry,
    LedgerKind,
    PayLine,
    Payment,
    PaymentStatus,
    Payout,
    PayoutStatus,
    Person,
    Receipt,
    RecordedPayment,
    Refund,
    RefundStatus,
)
from services.daraja import MalformedCallback, parse_callback
from services.money import format_kes
from services.phones import display_phone

# A success callback waits unmatched until its push's answer is stored (seconds); past this,
# the audit reports it.
UNMATCHED_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class Mismatch:
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}"


async def find_mismatches(conn: BaseDBAsyncClient, now: datetime) -> list[Mismatch]:
    """Every balance equals its ledger; every credited payment has exactly one entry; no
    money M-Pesa reported is left unmatched."""
    problems: list[Mismatch] = []
    sums = {
        row["person_id"]: int(row["total"] or 0)
        for row in await LedgerEntry.all()
        .using_db(conn)
        .group_by("person_id")
        .annotate(total=Sum("amount"))
        .values("person_id", "total")
    }
    for person in await Person.all().using_db(conn).order_by("id"):
        total = sums.get(person.id, 0)
        if person.balance != total:
            problems.append(
                Mismatch(
                    f"person #{person.id} {person.name}",
                    f"balance {format_kes(person.balance)} but ledger sums to {format_kes(total)}",
                )
            )
    problems += await _payments(conn)
    problems += await _callbacks(conn, now)
    problems += await _payouts(conn)
    problems += await _recorded(conn)
    problems += await _receipts(conn)
    # Imported here: services.refunds writes the ledger, whose package imports this module.
    from services.refunds.checks import refund_checks

    problems += await refund_checks(conn)
    problems += await _numbers(conn)
    return problems


async def _payments(conn: BaseDBAsyncClient) -> list[Mismatch]:
    """Each completed, unflagged payment has exactly one entry, for its payer, of what
    was paid; a flagged one has no credit left; a receipt is known; flags are resolved."""
    problems: list[Mismatch] = []
    entries: dict[int, list[LedgerEntry]] = {}
    for entry in await LedgerEntry.filter(payment_id__isnull=False).using_db(conn):
        entries.setdefault(entry.payment_id, []).append(entry)  # type: ignore[attr-defined]
    undone: set[int] = {
        int(r["reverses_id"])
        for r in await LedgerEntry.filter(reverses_id__isnull=False)
        .using_db(conn)
        .values("reverses_id")
    }
    names = dict(await Person.all().using_db(conn).values_list("id", "name"))
    for payment in await Payment.all().using_db(conn).order_by("id"):
        subject = f"payment #{payment.id}"
        payer_id: int | None = payment.person_id  # type: ignore[attr-defined]
        should = (
            payment.status is PaymentStatus.COMPLETED
            and payment.flag_reason is None
            and payer_id is not None
        )
        mine = entries.get(payment.id, [])
        live = [e for e in mine if e.id not in undone]
        if should and len(mine) != 1:
            problems.append(Mismatch(subject, f"completed but has {len(mine)} ledger entries"))
        elif should:
            entry = mine[0]
            paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
            credited_to: int = entry.person_id  # type: ignore[attr-defined]
            if credited_to != payer_id:
                problems.append(
                    Mismatch(
                        subject,
                        f"paid by #{payer_id} {names.get(payer_id, '?')} but ledger entry "
                        f"#{entry.id} credits #{credited_to} {names.get(credited_to, '?')}",
                    )
                )
            if entry.amount != -paid:
                problems.append(
                    Mismatch(
                        subject,
                        f"{format_kes(paid)} paid but ledger entry #{entry.id} credits "
                        f"{format_kes(-entry.amount)}",
                    )
                )
            if entry.id in undone:
                problems.append(Mismatch(subject, f"its ledger entry #{entry.id} was undone"))
        elif live:
            problems.append(
                Mismatch(
                    subject,
                    f"{payment.status.value}"
                    f"{' and flagged' if payment.flag_reason else ''} but has {len(live)} "
                    "ledger entries",
                )
            )
        if (
            payment.status is PaymentStatus.COMPLETED
            and payment.receipt is None
            and payment.flag_reason is None
            and payment.flag_resolved_at is None
        ):
            problems.append(
                Mismatch(
                    subject,
                    "completed without an M-Pesa receipt: find it on the M-Pesa "
                    f"statement, then /resolve {payment.id} | the receipt",
                )
            )
        if payment.flag_reason and payment.flag_resolved_at is None:
            problems.append(
                Mismatch(
                    subject,
                    f"flagged and not resolved ({payment.flag_reason}): "
                    f"/resolve {payment.id} | what was done",
                )
            )
    return problems


async def _callbacks(conn: BaseDBAsyncClient, now: datetime) -> list[Mismatch]:
    """Money M-Pesa says came in that no payment took."""
    problems: list[Mismatch] = []
    waited = now - UNMATCHED_GRACE
    for callback in await (
        DarajaCallback.filter(status=CallbackStatus.UNMATCHED, received_at__lte=waited)
        .using_db(conn)
        .order_by("id")
    ):
        try:
            parsed = parse_callback(callback.body.encode())
        except MalformedCallback:
            continue
        if not parsed.succeeded:
            continue
        amount = format_kes(parsed.amount) if parsed.amount is not None else "money"
        phone = f" from {display_phone(parsed.phone)}" if parsed.phone else ""
        problems.append(
            Mismatch(
                f"callback #{callback.id}",
                f"M-Pesa reports {amount} paid{phone} (receipt {parsed.receipt or '?'}), "
                "but no payment matched it: nobody was credited",
            )
        )
    return problems


async def _payouts(conn: BaseDBAsyncClient) -> list[Mismatch]:
    """Every paid payout has an M-Pesa receipt and exactly one PAYOUT entry of its amount,
    for the line's person; no line is paid twice; each paid amount is the line's net; and
    no PAYOUT entry stands without a paid payout."""
    problems: list[Mismatch] = []
    entries: dict[int, list[LedgerEntry]] = {}
    for entry in await LedgerEntry.filter(kind=LedgerKind.PAYOUT).using_db(conn):
        entries.setdefault(entry.payout_id or 0, []).append(entry)  # type: ignore[attr-defined]
    paid = await Payout.filter(status=PayoutStatus.PAID).using_db(conn).order_by("id")
    lines = {
        line.id: line
        for line in await PayLine.filter(
            id__in=[p.line_id for p in paid] or [0]  # type: ignore[attr-defined]
        ).using_db(conn)
    }
    per_line: dict[int, list[Payout]] = {}
    for payout in paid:
        subject = f"payout {payout.originator_conversation_id}"
        line = lines[payout.line_id]  # type: ignore[attr-defined]
        per_line.setdefault(line.id, []).append(payout)
        if not payout.transaction_id:
            problems.append(Mismatch(subject, "paid without an M-Pesa receipt"))
        if payout.amount != line.net:
            problems.append(
                Mismatch(
                    subject,
                    f"paid {format_kes(payout.amount)} but the line's net is {format_kes(line.net)}",
                )
            )
        mine = entries.pop(payout.id, [])
        if len(mine) != 1:
            problems.append(Mismatch(subject, f"paid but has {len(mine)} ledger entries"))
        elif mine[0].amount != payout.amount or mine[0].person_id != line.person_id:  # type: ignore[attr-defined]
            problems.append(
                Mismatch(subject, f"ledger entry #{mine[0].id} does not match what was paid")
            )
    for line_id, payouts in per_line.items():
        if len(payouts) > 1:
            receipts = ", ".join(p.transaction_id or "?" for p in payouts)
            problems.append(
                Mismatch(f"pay line #{line_id}", f"paid {len(payouts)} times ({receipts})")
            )
    for orphans in entries.values():
        for entry in orphans:
            problems.append(
                Mismatch(f"ledger entry #{entry.id}", "a payout entry without a paid payout")
            )
    return problems


async def _recorded(conn: BaseDBAsyncClient) -> list[Mismatch]:
    """Each recorded payment has its RECORDED entry (its person, minus its amount); an undone
    one has the reversal of that entry, a standing one none; no reference stands twice for
    one method; and no RECORDED entry stands without its recorded payment."""
    problems: list[Mismatch] = []
    entries = {e.id: e for e in await LedgerEntry.filter(kind=LedgerKind.RECORDED).using_db(conn)}
    reversals: dict[int, LedgerEntry] = {
        e.reverses_id: e  # type: ignore[attr-defined]
        for e in await LedgerEntry.filter(reverses_id__in=sorted(entries) or [0]).using_db(conn)
    }
    seen: dict[tuple[str, str], int] = {}
    for record in await RecordedPayment.all().using_db(conn).order_by("id"):
        subject = f"recorded payment #{record.id}"
        key = (record.method.value, "".join(record.reference.split()).casefold())
        if record.undone_at is None and key in seen:
            problems.append(
                Mismatch(
                    subject,
                    f"{record.method.value} reference {record.reference} is also recorded as "
                    f"#{seen[key]}",
                )
            )
        if record.undone_at is None:
            seen.setdefault(key, record.id)
        entry = entries.pop(record.entry_id, None)  # type: ignore[attr-defined]
        if entry is None:
            problems.append(Mismatch(subject, "has no recorded-payment ledger entry"))
            continue
        if entry.amount != -record.amount or entry.person_id != record.person_id:  # type: ignore[attr-defined]
            problems.append(
                Mismatch(
                    subject,
                    f"{format_kes(record.amount)} recorded but ledger entry #{entry.id} "
                    f"credits {format_kes(-entry.amount)} to person #{entry.person_id}",  # type: ignore[attr-defined]
                )
            )
        reversal = reversals.get(entry.id)
        if record.undone_at is None and reversal is not None:
            problems.append(
                Mismatch(subject, f"not undone, but entry #{reversal.id} reverses its credit")
            )
        elif record.undone_at is not None and (
            reversal is None
            or reversal.amount != record.amount
            or reversal.id != record.undo_entry_id  # type: ignore[attr-defined]
        ):
            problems.append(Mismatch(subject, "undone without its reversing ledger entry"))
    for orphan in entries.values():
        problems.append(
            Mismatch(f"ledger entry #{orphan.id}", "a recorded-payment entry without its record")
        )
    return problems


async def _receipts(conn: BaseDBAsyncClient) -> list[Mismatch]:
    """Every completed payment, paid payout and recorded payment has exactly one receipt, of
    its amount; no receipt stands for a movement that did not happen."""
    problems: list[Mismatch] = []
    by_payment: dict[int, list[Receipt]] = {}
    by_payout: dict[int, list[Receipt]] = {}
    by_record: dict[int, list[Receipt]] = {}
    by_refund: dict[int, list[Receipt]] = {}
    for receipt in await Receipt.all().using_db(conn).order_by("id"):
        links = [
            (by_payment, receipt.payment_id),  # type: ignore[attr-defined]
            (by_payout, receipt.payout_id),  # type: ignore[attr-defined]
            (by_record, receipt.recorded_payment_id),  # type: ignore[attr-defined]
            (by_refund, receipt.refund_id),  # type: ignore[attr-defined]
        ]
        linked = [(index, key) for index, key in links if key is not None]
        for index, key in linked:
            index.setdefault(key, []).append(receipt)
        if len(linked) != 1:
            problems.append(Mismatch(f"receipt {receipt.number}", "records no single movement"))
    completed = await Payment.filter(status=PaymentStatus.COMPLETED).using_db(conn).order_by("id")
    for payment in completed:
        mine = by_payment.pop(payment.id, [])
        if len(mine) != 1:
            problems.append(
                Mismatch(f"payment #{payment.id}", f"completed with {len(mine)} receipts")
            )
        elif mine[0].amount != (payment.paid_amount or payment.amount):
            problems.append(
                Mismatch(f"receipt {mine[0].number}", f"amount differs from payment #{payment.id}")
            )
    for payout in await Payout.filter(status=PayoutStatus.PAID).using_db(conn).order_by("id"):
        mine = by_payout.pop(payout.id, [])
        if len(mine) != 1:
            problems.append(
                Mismatch(
                    f"payout {payout.originator_conversation_id}", f"paid with {len(mine)} receipts"
                )
            )
    for record in await RecordedPayment.all().using_db(conn).order_by("id"):
        mine = by_record.pop(record.id, [])
        if len(mine) != 1:
            problems.append(
                Mismatch(f"recorded payment #{record.id}", f"recorded with {len(mine)} receipts")
            )
        elif mine[0].amount != record.amount:
            problems.append(
                Mismatch(f"receipt {mine[0].number}", f"amount differs from record #{record.id}")
            )
    refunded = Refund.filter(status=RefundStatus.REFUNDED).using_db(conn).order_by("id")
    for refund in await refunded:
        mine = by_refund.pop(refund.id, [])
        if len(mine) != 1 or mine[0].amount != refund.amount:
            problems.append(
                Mismatch(
                    f"refund #{refund.id}", f"refunded with {len(mine)} receipts of its amount"
                )
            )
    for receipts in (
        *by_payment.values(),
        *by_payout.values(),
        *by_record.values(),
        *by_refund.values(),
    ):
        for receipt in receipts:
            problems.append(
                Mismatch(f"receipt {receipt.number}", "for money that was not received or paid")
            )
    return problems


async def _numbers(conn: BaseDBAsyncClient) -> list[Mismatch]:
    """Each (series, year) is numbered 1..N without a gap, each number is spelled from its
    series, year and place, and the counter stands at N."""
    problems: list[Mismatch] = []
    taken: dict[tuple[DocumentSeries, int], list[tuple[int, str]]] = {}
    for series, model in ((DocumentSeries.RECEIPT, Receipt), (DocumentSeries.INVOICE, Invoice)):
        rows = await model.all().using_db(conn).values_list("year", "seq", "number")
        for year, seq, number in rows:
            taken.setdefault((series, int(year)), []).append((int(seq), str(number)))
    counters = {(c.series, c.year): c.issued for c in await DocumentCounter.all().using_db(conn)}
    for key in sorted(taken.keys() | counters.keys()):
        series, year = key
        numbers = sorted(taken.get(key, []))
        subject = f"{series.value}-{year}"
        seqs = [seq for seq, _ in numbers]
        if seqs != list(range(1, len(seqs) + 1)):
            missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))[:5]
            problems.append(
                Mismatch(subject, f"numbers are not 1..{len(seqs)}: missing {missing or 'none'}")
            )
        for seq, number in numbers:
            if number != f"{series.value}-{year}-{seq:06d}":
                problems.append(Mismatch(subject, f"{number} is not number {seq}'s spelling"))
        if counters.get(key, 0) != len(seqs):
            problems.append(
                Mismatch(subject, f"counter at {counters.get(key, 0)} but {len(seqs)} issued")
            )
    return problems
