"""Asking people for money by M-Pesa STK push, and learning what became of each request.

A payment row is written (initiated) before the push, so a crash never loses a prompt
that went out. A push is never resent automatically. Callbacks (in batches, see
services/callbacks.py) and STK queries settle payments through one path (`_Settling`), on
rows locked first, so the same outcome, however often it arrives and from however many
instances, changes the payment and the ledger once.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import (
    Access,
    AuditAction,
    AuditLog,
    CallbackStatus,
    Channel,
    DarajaCallback,
    LedgerEntry,
    LedgerKind,
    NotificationKind,
    OutboxMessage,
    Payment,
    PaymentBatch,
    PaymentStatus,
    Person,
)
from services import audit, batch_summary
from services.clock import Clock
from services.daraja import (
    DarajaClient,
    DarajaError,
    DarajaRejected,
    DarajaUnavailable,
    DarajaUnknownOutcome,
    MalformedCallback,
    QueryStatus,
    ResultKind,
    StkCallback,
    exchanges_for,
    parse_callback,
    result_kind,
)
from services.errors import (
    CallsheetError,
    Conflict,
    InvalidInput,
    NotAllowed,
    NotFound,
    require_manager,
)
from services.money import format_kes, parse_amount
from services.notifications import Button, Notifier
from services.outbox import Outbox
from services.people import Among, PeopleService
from services.phones import display_phone, looks_like_phone, normalise_phone
from services.worker import Failure, Worker, isolated

log = logging.getLogger(__name__)

# Statuses a callback or a query may still change.
OPEN = (PaymentStatus.INITIATED, PaymentStatus.PENDING, PaymentStatus.UNKNOWN)
SETTLED_UNPAID = (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.TIMEOUT)
NEEDS_A_MANAGER = (*SETTLED_UNPAID, PaymentStatus.UNKNOWN)
DUPLICATE_WINDOW = timedelta(minutes=2)
STRANDED_AFTER = timedelta(seconds=30)  # a callback stored this long ago and never applied
# An unknown payment is matched to a callback by phone and amount only if asked this recently.
MATCH_UNKNOWN_WITHIN = timedelta(hours=1)
STRANDED_BATCH = 100
PURPOSE_MAX = 100
CHECK_EVERY = timedelta(seconds=30)  # Check status asks M-Pesa at most this often per payment


class PaymentError(CallsheetError):
    pass


class UnknownPerson(PaymentError, NotFound):
    pass


class InvalidPurpose(PaymentError, InvalidInput):
    pass


class PaymentNotFound(PaymentError, NotFound):
    pass


class NothingToCheck(PaymentError, Conflict):
    pass


class TooSoon(PaymentError, Conflict):
    pass


class RepeatRequest(PaymentError, Conflict):
    """The same phone and amount were asked for moments ago: the manager must confirm."""

    def __init__(self, previous: Payment, seconds_ago: int) -> None:
        self.previous = previous
        self.seconds_ago = seconds_ago
        super().__init__(
            f"You asked {display_phone(previous.phone)} for {format_kes(previous.amount)} "
            f"{_ago(seconds_ago)} (now {previous.status.value}). Send again?"
        )


def _ago(seconds: int) -> str:
    return "just now" if seconds < 10 else f"{seconds} seconds ago"


@dataclass(frozen=True)
class PaymentDraft:
    """A request checked and ready to send: nothing is saved until it is sent."""

    person_id: int | None
    person_name: str | None
    phone: str
    amount: int
    purpose: str
    reference: str
    description: str

    @property
    def payer_label(self) -> str:
        return self.person_name or display_phone(self.phone)


@dataclass(frozen=True)
class Settlement:
    status: PaymentStatus
    reason: str
    result_code: int | None = None
    result_desc: str | None = None
    receipt: str | None = None
    paid_amount: int | None = None
    paid_phone: str | None = None
    flag_reason: str | None = None


# --- input --------------------------------------------------------------------------------


def _prompt_text(text: str, limit: int) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9 \-]+", "", text)
    return re.sub(r"\s+", " ", cleaned).strip()[:limit].strip()


def clean_purpose(text: str) -> tuple[str, str, str]:
    """The purpose as typed, and its forms for the payer's prompt (≤ 12 and ≤ 13 characters)."""
    purpose = " ".join(text.split())
    if not purpose:
        raise InvalidPurpose("Say what the payment is for, like “Cable damage” or “Advance”.")
    if len(purpose) > PURPOSE_MAX:
        raise InvalidPurpose(f"The purpose is {len(purpose)} characters; keep it under 100.")
    reference = _prompt_text(purpose, 12)
    description = _prompt_text(purpose, 13)
    if not reference:
        raise InvalidPurpose(
            "The purpose must contain letters or digits: it is shown on the payer's M-Pesa prompt."
        )
    return purpose, reference, description


# --- the service ----------------------------------------------------------------------------


class PaymentService:
    def __init__(
        self,
        daraja: DarajaClient,
        notifier: Notifier,
        outbox: Outbox,
        clock: Clock,
        *,
        query_after: timedelta,
        give_up_after: timedelta,
        company: str = "Callsheet",
    ) -> None:
        self.daraja = daraja
        self.notifier = notifier
        self.outbox = outbox
        self.clock = clock
        self.query_after = query_after
        self.give_up_after = give_up_after
        self.company = company

    # requesting

    async def payer(self, text: str) -> tuple[Person | None, str]:
        """Who pays, from a name/#id/phone; a phone nobody has is fine (person None)."""
        if looks_like_phone(text):
            phone = normalise_phone(text)
            return await Person.filter(Among.OWING_TOO.condition(), phone=phone).first(), phone
        person = await PeopleService.find(text, among=Among.OWING_TOO)
        return person, person.phone

    async def prepare(self, who: str, amount: str | int, purpose: str) -> PaymentDraft:
        """Check every field before anything is saved or sent."""
        person, phone = await self.payer(who)
        value = amount if isinstance(amount, int) else parse_amount(amount)
        purpose_text, reference, description = clean_purpose(purpose)
        return PaymentDraft(
            person_id=person.id if person else None,
            person_name=person.name if person else None,
            phone=phone,
            amount=value,
            purpose=purpose_text,
            reference=reference,
            description=description,
        )

    async def request(
        self,
        actor: Person,
        draft: PaymentDraft,
        *,
        confirmed: bool = False,
        resend_of: int | None = None,
    ) -> Payment:
        """Write the payment, push, and record what Daraja said. Status goes out live."""
        require_manager(actor, "ask for payments")
        now = self.clock.now()
        if not confirmed:
            previous = await self.recent_request(draft.phone, draft.amount)
            if previous is not None:
                raise RepeatRequest(previous, int((now - previous.created_at).total_seconds()))
        async with in_transaction() as conn:
            payment = await self.initiate(conn, actor, draft, resend_of=resend_of)
        self.outbox.wake()
        log.info("payment %s initiated: %s %s", payment.id, draft.phone, draft.amount)
        await self._push(payment)
        return await Payment.get(id=payment.id)

    async def recent_request(
        self, phone: str, amount: int, conn: BaseDBAsyncClient | None = None
    ) -> Payment | None:
        """The same phone and amount asked moments ago (Daraja would refuse it: result 17)."""
        return (
            await Payment.filter(
                phone=phone,
                amount=amount,
                created_at__gte=self.clock.now() - DUPLICATE_WINDOW,
                status__in=[*OPEN, PaymentStatus.COMPLETED],
            )
            .using_db(conn)
            .order_by("-id")
            .first()
        )

    async def initiate(
        self,
        conn: BaseDBAsyncClient,
        actor: Person,
        draft: PaymentDraft,
        *,
        resend_of: int | None = None,
        batch_id: int | None = None,
    ) -> Payment:
        """Write the payment row (initiated) in the caller's transaction; `push` sends it.

        A resend stays in its original's batch; resending one payment twice is refused
        even when two presses race (the original is locked while this one is written)."""
        event_id = None
        now = self.clock.now()
        if resend_of is not None:
            old = await _locked(conn, id=resend_of)
            newer = await Payment.filter(resend_of_id=resend_of).using_db(conn).first()
            if old is None or newer is not None:
                raise PaymentError(
                    f"Payment #{resend_of} was already resent as #{newer.id}."
                    if newer
                    else f"There is no payment #{resend_of}."
                )
            batch_id = old.batch_id  # type: ignore[attr-defined]
            event_id = old.event_id  # type: ignore[attr-defined]
        if batch_id is not None and event_id is None:
            batch = await PaymentBatch.filter(id=batch_id).using_db(conn).get()
            event_id = batch.event_id  # type: ignore[attr-defined]
        payment = await Payment.create(
            person_id=draft.person_id,
            phone=draft.phone,
            amount=draft.amount,
            purpose=draft.purpose,
            account_reference=draft.reference,
            transaction_desc=draft.description,
            requested_by=actor,
            resend_of_id=resend_of,
            batch_id=batch_id,
            event_id=event_id,
            created_at=now,
            updated_at=now,
            using_db=conn,
        )
        await audit.record(
            AuditAction.PAYMENT_REQUESTED,
            "payment",
            payment.id,
            at=now,
            actor=actor,
            details={
                "phone": draft.phone,
                "amount": draft.amount,
                "resend_of": resend_of,
                "batch": batch_id,
            },
            using_db=conn,
        )
        await self._notify_status(payment, conn, payer=False)
        return payment

    async def resend(self, actor: Person, payment_id: int) -> Payment:
        require_manager(actor, "ask for payments")
        old = await self._get(payment_id)
        if old.status not in SETTLED_UNPAID and old.status is not PaymentStatus.UNKNOWN:
            raise PaymentError(
                f"Payment #{old.id} is {old.status.value}; only a failed one can be resent."
            )
        newer = await Payment.filter(resend_of=old).order_by("-id").first()
        if newer is not None:
            raise PaymentError(f"Payment #{old.id} was already resent as #{newer.id}.")
        draft = await self.draft_of(old)
        return await self.request(actor, draft, confirmed=True, resend_of=old.id)

    async def draft_of(self, old: Payment) -> PaymentDraft:
        """The same request again: same payer, amount and purpose."""
        person_id = old.person_id  # type: ignore[attr-defined]
        person = await Person.get_or_none(id=person_id) if person_id else None
        return PaymentDraft(
            person_id=person.id if person else None,
            person_name=person.name if person else None,
            phone=old.phone,
            amount=old.amount,
            purpose=old.purpose,
            reference=old.account_reference,
            description=old.transaction_desc,
        )

    async def push(self, payment: Payment) -> None:
        """Send the STK push for a payment `initiate` wrote; never retried automatically."""
        await self._push(payment)

    async def _push(self, payment: Payment) -> None:
        try:
            with exchanges_for(payment.id):
                accepted = await self.daraja.stk_push(
                    payment.phone,
                    payment.amount,
                    payment.account_reference,
                    payment.transaction_desc,
                )
        except DarajaRejected as exc:
            log.info("payment %s refused by Daraja: %s", payment.id, exc)
            await self._settle_now(payment.id, Settlement(PaymentStatus.FAILED, exc.human_reason))
            return
        except DarajaUnavailable as exc:
            log.warning("payment %s not sent: %s", payment.id, exc)
            reason = "M-Pesa could not be reached, so nothing was sent; try Resend in a minute"
            await self._settle_now(payment.id, Settlement(PaymentStatus.FAILED, reason))
            return
        except DarajaUnknownOutcome as exc:
            log.warning("payment %s outcome unknown: %s", payment.id, exc)
            await self._mark_unknown(
                payment.id,
                "no answer from M-Pesa: a prompt may be on the payer's phone. Ask them before "
                "resending",
            )
            return
        except DarajaError as exc:
            log.error("payment %s: Daraja answered outside its contract: %s", payment.id, exc)
            await self._mark_unknown(payment.id, "M-Pesa gave an answer we do not understand")
            return
        async with in_transaction() as conn:
            # Still initiated, or marked unknown meanwhile (the answer came after
            # PAYMENT_QUERY_AFTER): either way M-Pesa took it, so it waits for the PIN.
            updated = (
                await Payment.filter(
                    id=payment.id,
                    status__in=[PaymentStatus.INITIATED, PaymentStatus.UNKNOWN],
                    checkout_request_id__isnull=True,
                )
                .using_db(conn)
                .update(
                    status=PaymentStatus.PENDING,
                    checkout_request_id=accepted.checkout_request_id,
                    merchant_request_id=accepted.merchant_request_id,
                    error=None,
                    updated_at=self.clock.now(),
                )
            )
            if updated:
                fresh = await Payment.filter(id=payment.id).using_db(conn).get()
                await self._notify_status(fresh, conn)
        self.outbox.wake()
        log.info("payment %s pending: checkout=%s", payment.id, accepted.checkout_request_id)
        # A callback that beat this response was stored unmatched: apply it now.
        waiting = await DarajaCallback.filter(
            checkout_request_id=accepted.checkout_request_id,
            status__in=[CallbackStatus.RECEIVED, CallbackStatus.UNMATCHED],
        ).values_list("id", flat=True)
        if waiting:
            # Waits for a worker that holds the row (it may be marking it unmatched just now).
            await self.apply_callbacks(list(waiting), skip_locked=False)  # type: ignore[arg-type]

    # callbacks

    async def apply_callbacks(
        self,
        ids: Sequence[int],
        *,
        skip_locked: bool = True,
        parsed: Mapping[int, StkCallback] | None = None,
    ) -> dict[int, CallbackStatus]:
        """Apply stored callbacks (by row id) in one transaction; returns each one's outcome.

        Each row is claimed first: only rows still received or unmatched are taken, and on
        PostgreSQL a row another instance holds is skipped (`skip_locked`, for workers and the
        sweep) or waited for. Payments are locked in id order, so two instances settling
        overlapping batches wait for each other instead of deadlocking. `parsed` holds the
        bodies already parsed on arrival."""
        now = self.clock.now()
        outcomes: dict[int, CallbackStatus] = {}
        async with in_transaction() as conn:
            marks = ", ".join("?" for _ in ids)
            claim = (
                f"SELECT id, body FROM daraja_callback WHERE id IN ({marks})"
                f" AND status IN ('{CallbackStatus.RECEIVED.value}',"
                f" '{CallbackStatus.UNMATCHED.value}')"
                " AND checkout_request_id IS NOT NULL ORDER BY id"
            )
            if conn.capabilities.dialect == "postgres":
                claim += " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"
            rows = [
                (r["id"], r["body"])
                for r in await conn.execute_query_dict(_sql(conn, claim), list(ids))
            ]
            known = parsed or {}
            claimed: list[tuple[int, StkCallback]] = []
            for row_id, body in rows:
                try:
                    claimed.append((row_id, known.get(row_id) or parse_callback(body.encode())))
                except MalformedCallback:
                    continue  # stored with an id, so it parsed once: never credit a guess
            if not claimed:
                return outcomes
            checkouts = sorted({p.checkout_request_id for _, p in claimed})
            found = (
                await Payment.filter(checkout_request_id__in=checkouts)
                .order_by("id")
                .select_for_update()
                .using_db(conn)
            )
            by_checkout = {p.checkout_request_id: p for p in found}
            batch = _Settling(self, conn)
            await batch.know_receipts([p.receipt for _, p in claimed if p.receipt])
            await batch.load_people(found)
            changes: list[list[Any]] = []
            for row_id, callback in claimed:
                payment = by_checkout.get(callback.checkout_request_id)
                if payment is None:
                    payment = await self._unknown_push_for(conn, callback)
                    if payment is not None:
                        by_checkout[callback.checkout_request_id] = payment
                        await batch.load_people([payment])
                if payment is None:
                    outcomes[row_id] = CallbackStatus.UNMATCHED
                    changes.append([CallbackStatus.UNMATCHED.value, None, None, row_id])
                    log.info("callback %s unmatched: %s", row_id, callback.checkout_request_id)
                    continue
                settlement = batch.receipt_unused(payment, self._from_callback(payment, callback))
                source = f"callback {row_id}"
                if await batch.settle(payment, settlement, source=source) or (
                    await batch.fill_in(payment, settlement, source=source)
                ):
                    status = (
                        CallbackStatus.FLAGGED if settlement.flag_reason else CallbackStatus.APPLIED
                    )
                    changes.append([status.value, payment.id, now, row_id])
                else:
                    status = CallbackStatus.DUPLICATE
                    changes.append([status.value, payment.id, None, row_id])
                outcomes[row_id] = status
                if status is CallbackStatus.DUPLICATE:  # an applied one is in the payment's line
                    log.info("callback %s for payment %s: %s", row_id, payment.id, status.value)
            await batch.write()
            await conn.execute_many(
                _sql(
                    conn,
                    "UPDATE daraja_callback SET status = ?, payment_id = ?, applied_at = ?"
                    " WHERE id = ?",
                ),
                changes,
            )
        self.outbox.wake()
        return outcomes

    async def _unknown_push_for(
        self, conn: BaseDBAsyncClient, parsed: StkCallback
    ) -> Payment | None:
        """A success for a push whose response never reached us: the one unknown payment
        with that phone and amount, asked for recently, gets this CheckoutRequestID."""
        if not parsed.succeeded or parsed.phone is None or parsed.amount is None:
            return None
        # While a push to this phone is in flight its own callback may be this one (Daraja
        # can call back before it answers the push): guessing now could credit the wrong
        # payment. The callback waits, unmatched, and that push applies it once answered.
        in_flight = (
            await Payment.filter(phone=parsed.phone, status=PaymentStatus.INITIATED)
            .using_db(conn)
            .exists()
        )
        if in_flight:
            return None
        candidates = (
            await Payment.filter(
                status=PaymentStatus.UNKNOWN,
                checkout_request_id__isnull=True,
                phone=parsed.phone,
                amount=parsed.amount,
                created_at__gte=self.clock.now() - MATCH_UNKNOWN_WITHIN,
            )
            .select_for_update()
            .using_db(conn)
        )
        if len(candidates) != 1:
            return None
        payment = candidates[0]
        # Only the latest request to that phone: a later one (a resend, or the number now
        # someone else's) may be what was paid.
        later = await Payment.filter(phone=parsed.phone, id__gt=payment.id).using_db(conn).exists()
        if later:
            return None
        await (
            Payment.filter(id=payment.id)
            .using_db(conn)
            .update(
                checkout_request_id=parsed.checkout_request_id,
                merchant_request_id=parsed.merchant_request_id,
                updated_at=self.clock.now(),
            )
        )
        payment.checkout_request_id = parsed.checkout_request_id
        log.info(
            "payment %s matched to %s by phone and amount", payment.id, parsed.checkout_request_id
        )
        return payment

    def _from_callback(self, payment: Payment, parsed: StkCallback) -> Settlement:
        if not parsed.succeeded:
            return Settlement(
                _status_for(parsed.kind),
                parsed.reason,
                result_code=parsed.result_code,
                result_desc=parsed.result_desc[:255],
            )
        problems = list(parsed.problems)
        if parsed.amount is not None and parsed.amount != payment.amount:
            problems.append(
                f"M-Pesa reports {format_kes(parsed.amount)} paid, but "
                f"{format_kes(payment.amount)} was asked"
            )
        if parsed.phone is not None and parsed.phone != payment.phone:
            problems.append(
                f"paid from {display_phone(parsed.phone)}, not {display_phone(payment.phone)}"
            )
        if payment.status in SETTLED_UNPAID:
            problems.append(f"M-Pesa reported success after the payment was {payment.status}")
        return Settlement(
            PaymentStatus.COMPLETED,
            "paid",
            result_code=0,
            result_desc=parsed.result_desc[:255],
            receipt=parsed.receipt,
            paid_amount=parsed.amount,
            paid_phone=parsed.phone,
            flag_reason="; ".join(problems)[:255] if problems else None,
        )

    # settling

    async def _settle_now(self, payment_id: int, settlement: Settlement) -> bool:
        async with in_transaction() as conn:
            payment = await _locked(conn, id=payment_id)
            assert payment is not None
            applied = await self._settle(conn, payment, settlement)
        self.outbox.wake()
        return applied

    async def _settle(
        self, conn: BaseDBAsyncClient, payment: Payment, settlement: Settlement
    ) -> bool:
        """Move an open payment to its outcome, once; credit the ledger on a clean success."""
        batch = _Settling(self, conn)
        await batch.load_people([payment])
        applied = await batch.settle(payment, settlement)
        await batch.write()
        return applied

    async def _mark_unknown(self, payment_id: int, reason: str) -> bool:
        now = self.clock.now()
        async with in_transaction() as conn:
            payment = await _locked(conn, id=payment_id)
            assert payment is not None
            updated = (
                await Payment.filter(
                    id=payment.id, status__in=[PaymentStatus.INITIATED, PaymentStatus.PENDING]
                )
                .using_db(conn)
                .update(status=PaymentStatus.UNKNOWN, error=reason[:500], updated_at=now)
            )
            if updated:
                fresh = await Payment.filter(id=payment.id).using_db(conn).get()
                await audit.record(
                    AuditAction.PAYMENT_UNKNOWN,
                    "payment",
                    fresh.id,
                    at=now,
                    actor_label="system",
                    details={"reason": reason},
                    using_db=conn,
                )
                await self._notify_status(fresh, conn)
                await self._alert_managers(fresh, reason, conn)
        self.outbox.wake()
        if updated:
            log.warning("payment %s unknown: %s", payment_id, reason)
            await self._retry_waiting_callbacks()
        return bool(updated)

    async def _retry_waiting_callbacks(self) -> None:
        """A success callback that came while a push to its phone was in flight waited,
        unmatched (it might be that push's own). With the push given up as unknown, it may
        now match by phone and amount; without this it would wait forever, the manager would
        see 'not known', and a Resend would make the payer pay twice."""
        since = self.clock.now() - MATCH_UNKNOWN_WITHIN
        waiting = await DarajaCallback.filter(
            status=CallbackStatus.UNMATCHED, received_at__gte=since
        ).values_list("id", flat=True)
        if waiting:
            await self.apply_callbacks(list(waiting), skip_locked=False)  # type: ignore[arg-type]

    # reconciliation

    async def check_status(self, actor: Person, payment_id: int) -> Payment:
        """The Check status button: ask Daraja now (the reconciliation path)."""
        payment = await self._get(payment_id)
        if not actor.is_manager and payment.person_id != actor.id:  # type: ignore[attr-defined]
            raise NotAllowed("That payment is not yours.")
        if payment.status in OPEN:
            if payment.checkout_request_id is not None:
                await self._claim_query(payment)
            await self._reconcile(payment, by_hand=True)
        return await Payment.get(id=payment.id)

    async def _claim_query(self, payment: Payment) -> None:
        """One STK query per payment per CHECK_EVERY, however many presses race for it:
        Daraja's quota is shared with everyone's pushes."""
        now = self.clock.now()
        since = now - CHECK_EVERY
        claimed = (
            await Payment.filter(id=payment.id)
            .filter(Q(queried_at__isnull=True) | Q(queried_at__lte=since))
            .update(queried_at=now, updated_at=now)
        )
        if not claimed:
            last = (await Payment.get(id=payment.id)).queried_at or now
            wait = max(1, math.ceil((last + CHECK_EVERY - now).total_seconds()))
            raise TooSoon(
                f"M-Pesa was just asked about payment #{payment.id}. "
                f"You can check again in {wait} seconds."
            )

    async def apply_stranded_callbacks(self, older_than: timedelta = STRANDED_AFTER) -> int:
        """Callbacks stored but never applied (the process died before its worker got to
        them): apply them now. A row another instance is applying is skipped, not doubled."""
        cutoff = self.clock.now() - older_than
        # Malformed bodies are stored without a CheckoutRequestID: kept for a person to read,
        # never re-parsed here round after round.
        stranded = (
            await DarajaCallback.filter(
                status=CallbackStatus.RECEIVED,
                received_at__lte=cutoff,
                checkout_request_id__isnull=False,
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        ids: list[int] = list(stranded)  # type: ignore[arg-type]
        for start in range(0, len(ids), STRANDED_BATCH):
            batch = ids[start : start + STRANDED_BATCH]
            outcomes = await isolated(
                f"stranded callbacks {batch[0]}-{batch[-1]}",
                functools.partial(self.apply_callbacks, batch),
            )
            if isinstance(outcomes, Failure):  # one bad row: the others are applied alone
                alone = [
                    await isolated(
                        f"stranded callback {i}", functools.partial(self.apply_callbacks, [i])
                    )
                    for i in batch
                ]
                outcomes = {}
                for one in alone:
                    if not isinstance(one, Failure):
                        outcomes.update(one)
            for row_id, status in outcomes.items():
                log.warning("stranded callback %s applied late: %s", row_id, status.value)
        return len(ids)

    async def reconcile_due(self) -> int:
        """Query payments still pending after `query_after`; returns how many were asked about."""
        now = self.clock.now()
        cutoff = now - self.query_after
        # Still INITIATED this long after: the process stopped between saving the request and
        # hearing Daraja's answer. A prompt may be on the phone; only a person can tell.
        interrupted = await Payment.filter(
            status=PaymentStatus.INITIATED, created_at__lte=cutoff
        ).only("id")
        for stuck in interrupted:
            await isolated(
                f"payment {stuck.id}",
                functools.partial(
                    self._mark_unknown,
                    stuck.id,
                    "the request was interrupted before M-Pesa answered: a prompt may be on the "
                    "payer's phone. Ask them before resending",
                ),
            )
        due = await Payment.filter(
            status=PaymentStatus.PENDING,
            checkout_request_id__isnull=False,
            created_at__lte=cutoff,
        ).order_by("id")
        asked = 0
        for payment in due:
            if payment.queried_at is not None and payment.queried_at > cutoff:
                continue
            asked += 1
            # Each payment on its own: one that cannot be checked never stops the others.
            outcome = await isolated(
                f"payment {payment.id}: query",
                functools.partial(self._reconcile, payment, by_hand=False),
            )
            if isinstance(outcome, Failure) and now - payment.created_at >= self.give_up_after:
                await isolated(
                    f"payment {payment.id}",
                    functools.partial(
                        self._mark_unknown,
                        payment.id,
                        f"it could not be checked with M-Pesa ({outcome.text(200)}); "
                        "ask the payer and check the M-Pesa statement",
                    ),
                )
        return asked

    async def _reconcile(self, payment: Payment, *, by_hand: bool) -> None:
        now = self.clock.now()
        await Payment.filter(id=payment.id).update(queried_at=now, updated_at=now)
        if payment.checkout_request_id is None:
            if by_hand:
                raise NothingToCheck(
                    "M-Pesa never gave this request an id, so it cannot be looked up. "
                    "Ask the payer whether they got a prompt before resending."
                )
            return
        try:
            with exchanges_for(payment.id):
                result = await self.daraja.stk_query(payment.checkout_request_id)
        except DarajaError as exc:
            log.warning("payment %s: query failed: %s", payment.id, exc)
            if by_hand and isinstance(exc, DarajaUnavailable):
                # It never reached Daraja, so it used none of the quota: the next press may ask.
                await Payment.filter(id=payment.id).update(
                    queried_at=payment.queried_at, updated_at=self.clock.now()
                )
            if by_hand:
                raise PaymentError(
                    "M-Pesa could not be asked right now; try Check status again in a minute."
                ) from exc
            return
        if result.status is QueryStatus.COMPLETED:
            await self._settle_now(
                payment.id,
                Settlement(
                    PaymentStatus.COMPLETED,
                    "paid",
                    result_code=0,
                    result_desc=result.result_desc[:255],
                    paid_amount=payment.amount,
                ),
            )
        elif result.status is QueryStatus.FAILED:
            code = result.result_code if result.result_code is not None else -1
            await self._settle_now(
                payment.id,
                Settlement(
                    _status_for(result_kind(code)),
                    result.reason,
                    result_code=code,
                    result_desc=result.result_desc[:255],
                ),
            )
        elif now - payment.created_at >= self.give_up_after:
            reason = (
                "M-Pesa still says the payment is being processed"
                if result.status is QueryStatus.PENDING
                else "M-Pesa has no record of this request"
            )
            await self._mark_unknown(
                payment.id,
                f"{reason} after {int(self.give_up_after.total_seconds() // 60)} minutes; "
                "ask the payer and check the M-Pesa statement",
            )
        log.info("payment %s queried: %s", payment.id, result.status.value)

    # reading

    async def _get(self, payment_id: int) -> Payment:
        payment = await Payment.get_or_none(id=payment_id)
        if payment is None:
            raise PaymentNotFound(f"There is no payment #{payment_id}.")
        return payment

    # notifications

    async def _notify_status(
        self, payment: Payment, conn: BaseDBAsyncClient, *, payer: bool = True
    ) -> None:
        manager, person = await _people_of(payment, conn)
        to_manager = await _manager_follows(payment, conn)
        rows = self._status_rows(payment, manager, person, payer=payer, to_manager=to_manager)
        await self.notifier.supersede(rows, conn)
        await _save(rows, conn)
        batch_id = payment.batch_id  # type: ignore[attr-defined]
        if batch_id is not None:
            await batch_summary.refresh(self.notifier, batch_id, conn)

    async def _alert_managers(self, payment: Payment, reason: str, conn: BaseDBAsyncClient) -> None:
        _, person = await _people_of(payment, conn)
        managers = await Person.filter(access=Access.MANAGER, active=True).using_db(conn)
        await _save(self._alert_rows(payment, reason, person, managers), conn)

    def _status_rows(
        self,
        payment: Payment,
        manager: Person,
        person: Person | None,
        *,
        payer: bool = True,
        to_manager: bool = True,
    ) -> list[OutboxMessage]:
        context = {"payment": payment, "payer": person, "phone": display_phone(payment.phone)}
        rows = (
            self.notifier.prepare(
                manager,
                NotificationKind.PAYMENT_STATUS,
                {**context, "for_manager": True},
                buttons=_manager_buttons(payment),
                live_key=f"pay:{payment.id}:mgr",
                channels=(Channel.TELEGRAM,),
            )
            if to_manager
            else []
        )
        if payer and person is not None and person.id != manager.id:
            rows += self.notifier.prepare(
                person,
                NotificationKind.PAYMENT_STATUS,
                {**context, "for_manager": False},
                buttons=_payer_buttons(payment),
                live_key=f"pay:{payment.id}:payer",
                channels=(Channel.TELEGRAM,),
            )
        return rows

    def _receipt_rows(
        self, payment: Payment, manager: Person, person: Person | None
    ) -> list[OutboxMessage]:
        recipients = [manager] if person is None or person.id == manager.id else [person, manager]
        rows: list[OutboxMessage] = []
        # Someone without an email address has the receipt number in their chat message
        # already: no row (not even a skipped one) for an email that cannot exist.
        for recipient in (r for r in recipients if r.email):
            rows += self.notifier.prepare(
                recipient,
                NotificationKind.PAYMENT_RECEIPT,
                {
                    "payment": payment,
                    "payer": person,
                    "phone": display_phone(payment.phone),
                    "for_manager": recipient.id == manager.id,
                },
                dedupe_key=f"pay:{payment.id}:receipt:{recipient.id}",
                channels=(Channel.EMAIL,),
            )
        return rows

    def _alert_rows(
        self, payment: Payment, reason: str, person: Person | None, managers: Sequence[Person]
    ) -> list[OutboxMessage]:
        rows: list[OutboxMessage] = []
        for manager in managers:
            rows += self.notifier.prepare(
                manager,
                NotificationKind.PAYMENT_ALERT,
                {
                    "payment": payment,
                    "payer": person,
                    "phone": display_phone(payment.phone),
                    "reason": reason,
                },
                buttons=[[Button("Check status", f"pay:check:{payment.id}")]]
                if payment.checkout_request_id
                else (),
                dedupe_key=f"pay:{payment.id}:alert:{payment.status.value}:{manager.id}",
            )
        return rows


class _Settling:
    """The settlements of one transaction, written together: one statement per kind of row
    for the whole batch rather than a dozen per payment. The caller holds the payments'
    locks (PostgreSQL) or the only write transaction (SQLite), so the payments it passes are
    current; each is changed in memory as it settles, so a second outcome for the same
    payment in the batch sees the first."""

    def __init__(self, service: PaymentService, conn: BaseDBAsyncClient) -> None:
        self.service = service
        self.conn = conn
        self.now = service.clock.now()
        self.people: dict[int, Person] = {}
        self.managers: list[Person] | None = None
        self.receipts: dict[str, int] = {}  # receipt → the payment that holds it
        self.updates: list[list[Any]] = []
        self.ledger: list[LedgerEntry] = []
        self.balances: dict[int, int] = {}  # person id → shillings that lower the balance
        self.credits: list[tuple[int, int, Payment]] = []  # (payer, shillings, payment)
        self.audit: list[AuditLog] = []
        self.messages: list[OutboxMessage] = []
        self.batches: set[int] = set()  # payment requests whose summary must be rewritten

    async def load_people(self, payments: Sequence[Payment]) -> None:
        wanted = {p.requested_by_id for p in payments}  # type: ignore[attr-defined]
        wanted |= {p.person_id for p in payments if p.person_id}  # type: ignore[attr-defined]
        missing = wanted - self.people.keys()
        if missing:
            for person in await Person.filter(id__in=missing).using_db(self.conn):
                self.people[person.id] = person

    async def know_receipts(self, receipts: Sequence[str]) -> None:
        if receipts:
            found = (
                await Payment.filter(receipt__in=list(receipts))
                .using_db(self.conn)
                .values_list("receipt", "id")
            )
            self.receipts.update(found)

    def receipt_unused(self, payment: Payment, settlement: Settlement) -> Settlement:
        """A receipt already credited to another payment is a replay (or a forgery): flag it,
        keep the receipt out of the unique column, credit nothing."""
        if settlement.receipt is None:
            return settlement
        other = self.receipts.get(settlement.receipt)
        if other is None or other == payment.id:
            return settlement
        problem = f"M-Pesa receipt {settlement.receipt} was already used for payment #{other}"
        flag = "; ".join(p for p in (settlement.flag_reason, problem) if p)
        return replace(settlement, receipt=None, flag_reason=flag[:255])

    async def settle(self, payment: Payment, settlement: Settlement, source: str = "") -> bool:
        """Move an open payment to its outcome, once; credit the ledger on a clean success."""
        completed = settlement.status is PaymentStatus.COMPLETED
        late_success = completed and payment.status in SETTLED_UNPAID
        allowed = [*OPEN, *SETTLED_UNPAID] if late_success else list(OPEN)
        if payment.status not in allowed:
            return False
        was = payment.status
        payment.status = settlement.status
        payment.result_code = settlement.result_code
        payment.result_desc = settlement.result_desc
        payment.resolved_at = self.now
        payment.error = None if completed else settlement.reason
        if completed:
            payment.receipt = settlement.receipt
            payment.paid_amount = settlement.paid_amount
            payment.paid_phone = settlement.paid_phone
            payment.flag_reason = settlement.flag_reason
            if payment.receipt:
                self.receipts[payment.receipt] = payment.id
        self._queue_update(payment, was)
        payer_id: int | None = payment.person_id  # type: ignore[attr-defined]
        credited = completed and payment.flag_reason is None and payer_id is not None
        if credited:
            assert payer_id is not None
            amount = payment.paid_amount or payment.amount
            self.ledger.append(
                LedgerEntry(
                    person_id=payer_id,
                    kind=LedgerKind.PAYMENT,
                    amount=-amount,
                    description=f"M-Pesa {payment.receipt or 'payment'} · {payment.purpose}"[:200],
                    payment_id=payment.id,
                    created_at=self.now,
                )
            )
            self.balances[payer_id] = self.balances.get(payer_id, 0) + amount
            self.credits.append((payer_id, amount, payment))
        self.audit.append(
            AuditLog(
                at=self.now,
                action=AuditAction.payment(payment.status),
                subject_type="payment",
                subject_id=payment.id,
                actor_label="daraja",
                details={
                    "reason": settlement.reason,
                    "receipt": payment.receipt,
                    "flag": payment.flag_reason,
                    "credited": credited,
                },
            )
        )
        manager = self.people[payment.requested_by_id]  # type: ignore[attr-defined]
        person = self.people.get(payer_id) if payer_id else None
        to_manager = await _manager_follows(payment, self.conn)
        self.messages += self.service._status_rows(payment, manager, person, to_manager=to_manager)
        batch_id: int | None = payment.batch_id  # type: ignore[attr-defined]
        if batch_id is not None:
            self.batches.add(batch_id)
        if completed:
            self.messages += self.service._receipt_rows(payment, manager, person)
        await self._alert_if_flagged(payment, person)
        log.info(
            "payment %s %s (%s)%s%s",
            payment.id,
            payment.status.value,
            settlement.reason,
            f" from {source}" if source else "",
            f" flagged: {payment.flag_reason}" if payment.flag_reason else "",
        )
        return True

    def _queue_update(self, payment: Payment, was: PaymentStatus) -> None:
        """The payment's row as settled, for `write`; applied only if it is still `was`."""
        self.updates.append(
            [
                payment.status.value,
                payment.result_code,
                payment.result_desc,
                payment.resolved_at,
                payment.error,
                payment.receipt,
                payment.paid_amount,
                payment.paid_phone,
                payment.flag_reason,
                payment.flag_resolved_at,
                payment.flag_resolved_by_id,  # type: ignore[attr-defined]
                payment.flag_resolution,
                self.now,
                payment.id,
                was.value,
            ]
        )

    async def fill_in(self, payment: Payment, settlement: Settlement, source: str = "") -> bool:
        """The success callback of a payment the STK query already settled (the query has no
        receipt): record its receipt and check it like any callback. A mismatch flags the
        payment and withdraws the credit the query gave."""
        if not (
            payment.status is PaymentStatus.COMPLETED
            and payment.receipt is None
            and payment.flag_reason is None
            and settlement.status is PaymentStatus.COMPLETED
        ):
            return False
        payment.receipt = settlement.receipt
        payment.paid_amount = settlement.paid_amount or payment.paid_amount
        payment.paid_phone = settlement.paid_phone
        payment.flag_reason = settlement.flag_reason
        if payment.flag_reason:
            # A new flag needs a new look, even if the missing receipt was resolved before.
            payment.flag_resolved_at = payment.flag_resolution = None
            payment.flag_resolved_by_id = None
        if payment.receipt:
            self.receipts[payment.receipt] = payment.id
        self._queue_update(payment, payment.status)
        payer_id: int | None = payment.person_id  # type: ignore[attr-defined]
        withdrawn = 0
        if payment.flag_reason and payer_id is not None:
            # The query's credit, and the charge for what it paid beyond what was owed: as
            # if this callback had come first (flagged, nothing credited, nothing charged).
            credit = await LedgerEntry.filter(payment_id=payment.id).using_db(self.conn).first()
            beyond = await LedgerEntry.filter(
                person_id=payer_id,
                kind=LedgerKind.CHARGE,
                description=_beyond_description(payment),
            ).using_db(self.conn)
            for entry in [e for e in (credit, *beyond) if e is not None]:
                if await LedgerEntry.exists(reverses_id=entry.id, using_db=self.conn):
                    continue
                withdrawn -= entry.amount
                self.ledger.append(
                    LedgerEntry(
                        person_id=payer_id,
                        kind=LedgerKind.ADJUSTMENT,
                        amount=-entry.amount,
                        description=f"Payment #{payment.id} not credited: {payment.flag_reason}"[
                            :200
                        ],
                        reverses_id=entry.id,
                        created_at=self.now,
                    )
                )
                self.balances[payer_id] = self.balances.get(payer_id, 0) + entry.amount
        self.audit.append(
            AuditLog(
                at=self.now,
                action=AuditAction.PAYMENT_RECEIPT,
                subject_type="payment",
                subject_id=payment.id,
                actor_label="daraja",
                details={
                    "receipt": payment.receipt,
                    "flag": payment.flag_reason,
                    "withdrawn": withdrawn,
                },
            )
        )
        manager = self.people[payment.requested_by_id]  # type: ignore[attr-defined]
        person = self.people.get(payer_id) if payer_id else None
        to_manager = await _manager_follows(payment, self.conn)
        self.messages += self.service._status_rows(payment, manager, person, to_manager=to_manager)
        batch_id: int | None = payment.batch_id  # type: ignore[attr-defined]
        if batch_id is not None:
            self.batches.add(batch_id)
        await self._alert_if_flagged(payment, person)
        log.info(
            "payment %s receipt %s%s%s",
            payment.id,
            payment.receipt,
            f" from {source}" if source else "",
            f" flagged: {payment.flag_reason}" if payment.flag_reason else "",
        )
        return True

    async def _alert_if_flagged(self, payment: Payment, person: Person | None) -> None:
        if payment.flag_reason:
            if self.managers is None:
                managers = Person.filter(access=Access.MANAGER, active=True).using_db(self.conn)
                self.managers = list(await managers)
            self.messages += self.service._alert_rows(
                payment, payment.flag_reason, person, self.managers
            )

    async def write(self) -> None:
        conn = self.conn
        if self.updates:
            # In settling order: a late success follows the failure it overrides. The rows
            # are locked (or SQLite has one writer), so the status condition always holds.
            await conn.execute_many(
                _sql(
                    conn,
                    "UPDATE payment SET status = ?, result_code = ?, result_desc = ?,"
                    " resolved_at = ?, error = ?, receipt = ?, paid_amount = ?, paid_phone = ?,"
                    " flag_reason = ?, flag_resolved_at = ?, flag_resolved_by_id = ?,"
                    " flag_resolution = ?, updated_at = ? WHERE id = ? AND status = ?",
                ),
                self.updates,
            )
        await self._charge_beyond_owed()
        if self.ledger:
            await LedgerEntry.bulk_create(self.ledger, using_db=conn)
        if self.balances:
            # In id order, so that two instances' batches never wait for each other in a ring.
            await conn.execute_many(
                _sql(conn, "UPDATE person SET balance = balance - ?, updated_at = ? WHERE id = ?"),
                [[amount, self.now, pid] for pid, amount in sorted(self.balances.items())],
            )
        if self.audit:
            await AuditLog.bulk_create(self.audit, using_db=conn)
        if self.messages:
            await self.service.notifier.supersede(self.messages, conn)
            await OutboxMessage.bulk_create(self.messages, using_db=conn)
        # After the payments are written (the summary reads them), in id order: the payments
        # are all locked already, so two settlers cannot wait for each other in a ring.
        for batch_id in sorted(self.batches):
            await batch_summary.refresh(self.service.notifier, batch_id, conn)

    async def _charge_beyond_owed(self) -> None:
        """A request settles what the payer owes; whatever they pay beyond that is charged
        with the request (its purpose), so a payment never leaves anyone in credit."""
        if not self.credits:
            return
        payers = sorted({pid for pid, _, _ in self.credits})
        marks = ", ".join("?" for _ in payers)
        sql = f"SELECT id, balance FROM person WHERE id IN ({marks}) ORDER BY id"
        if self.conn.capabilities.dialect == "postgres":
            sql += " FOR UPDATE"  # in id order, like the balance update below
        rows = await self.conn.execute_query_dict(_sql(self.conn, sql), payers)
        # What each owes before these credits: the stored balance, plus any credit this
        # batch withdraws (a late callback that did not match).
        owed = {r["id"]: int(r["balance"]) for r in rows}
        for pid, lowered in self.balances.items():
            owed[pid] = owed.get(pid, 0) - lowered
        for pid, amount, _ in self.credits:
            owed[pid] += amount
        for pid, amount, payment in self.credits:
            beyond = amount - max(owed[pid], 0)
            owed[pid] -= amount
            if beyond <= 0:
                continue
            owed[pid] += beyond
            self.ledger.append(
                LedgerEntry(
                    person_id=pid,
                    kind=LedgerKind.CHARGE,
                    amount=beyond,
                    description=_beyond_description(payment),
                    created_by_id=payment.requested_by_id,  # type: ignore[attr-defined]
                    created_at=self.now,
                )
            )
            self.balances[pid] -= beyond


def _beyond_description(payment: Payment) -> str:
    """The charge for what a request's payment brought beyond what the payer owed."""
    return f"{payment.purpose} · asked with payment #{payment.id}"[:200]


async def _people_of(payment: Payment, conn: BaseDBAsyncClient) -> tuple[Person, Person | None]:
    """The manager who asked and the payer (None for a phone nobody on the list has)."""
    manager = await Person.filter(id=payment.requested_by_id).using_db(conn).get()  # type: ignore[attr-defined]
    person = (
        await Person.filter(id=payment.person_id).using_db(conn).first()  # type: ignore[attr-defined]
        if payment.person_id  # type: ignore[attr-defined]
        else None
    )
    return manager, person


async def _manager_follows(payment: Payment, conn: BaseDBAsyncClient) -> bool:
    """Whether the manager's own status message for this payment is written. In a batch the
    summary is the manager's view; a payment gets its own message (with Resend / Check
    status) only once it needs them, and keeps it from then on."""
    return (
        payment.batch_id is None  # type: ignore[attr-defined]
        or payment.status in NEEDS_A_MANAGER
        or await OutboxMessage.exists(live_key=f"pay:{payment.id}:mgr", using_db=conn)
    )


async def _save(rows: Sequence[OutboxMessage], conn: BaseDBAsyncClient) -> None:
    if rows:
        await OutboxMessage.bulk_create(list(rows), using_db=conn)


def _sql(conn: BaseDBAsyncClient, sql: str) -> str:
    """`?` placeholders as the connection's driver wants them (asyncpg: $1, $2, …)."""
    if conn.capabilities.dialect != "postgres":
        return sql
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))


async def _locked(conn: BaseDBAsyncClient, **where: Any) -> Payment | None:
    """The payment row, locked until the transaction ends (PostgreSQL; SQLite serialises)."""
    return await Payment.filter(**where).select_for_update().using_db(conn).first()


def _status_for(kind: ResultKind) -> PaymentStatus:
    return {
        ResultKind.PAID: PaymentStatus.COMPLETED,
        ResultKind.CANCELLED: PaymentStatus.CANCELLED,
        ResultKind.TIMEOUT: PaymentStatus.TIMEOUT,
        ResultKind.FAILED: PaymentStatus.FAILED,
    }[kind]


def _manager_buttons(payment: Payment) -> Sequence[Sequence[Button]]:
    row: list[Button] = []
    if payment.status in SETTLED_UNPAID or payment.status is PaymentStatus.UNKNOWN:
        row.append(Button("Resend", f"pay:resend:{payment.id}"))
    if payment.checkout_request_id and payment.status in (
        PaymentStatus.PENDING,
        PaymentStatus.UNKNOWN,
        *SETTLED_UNPAID,
    ):
        row.append(Button("Check status", f"pay:check:{payment.id}"))
    return [row] if row else []


def _payer_buttons(payment: Payment) -> Sequence[Sequence[Button]]:
    if payment.checkout_request_id and payment.status in (
        PaymentStatus.PENDING,
        PaymentStatus.UNKNOWN,
    ):
        return [[Button("Check status", f"pay:check:{payment.id}")]]
    return []


class Reconciler(Worker):
    """The background loop that asks Daraja about payments no callback has settled."""

    name = "reconciler"

    def __init__(self, payments: PaymentService, *, every_seconds: float) -> None:
        super().__init__(idle_seconds=every_seconds)
        self.payments = payments
        self.every_seconds = every_seconds

    async def run_due(self) -> int:
        """The sweep of stranded callbacks, then the queries, each on its own: a callback
        that cannot be applied never stops the queries. Returns how many were queried."""
        await isolated("applying stranded callbacks", self.payments.apply_stranded_callbacks)
        asked = await isolated("querying open payments", self.payments.reconcile_due)
        return 0 if isinstance(asked, Failure) else asked

    async def round(self) -> int:
        await self.run_due()
        return 0  # queries are paced: every round is followed by the pause
