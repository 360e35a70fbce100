"""Asking people for money by M-Pesa STK push: the request, Resend and Check status.

A payment row is written (initiated) before the push, so a crash never loses a prompt
that went out. A push is never resent automatically: what became of it is learnt from its
callback (intake.py), an STK query (reconciliation.py), or Daraja's refusal, all settled
by settlement.py.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import AuditAction, Payment, PaymentBatch, PaymentStatus, Person
from services import audit
from services.clock import Clock
from services.daraja import (
    DarajaClient,
    DarajaError,
    DarajaRejected,
    DarajaUnavailable,
    DarajaUnknownOutcome,
    exchanges_for,
)
from services.errors import NotAllowed, require_manager
from services.ledger import LedgerService
from services.money import parse_amount
from services.notifications import Notifier
from services.outbox import Outbox
from services.payments.errors import InvalidPurpose, PaymentError, PaymentNotFound, RepeatRequest
from services.payments.intake import Intake
from services.payments.messages import PaymentMessages
from services.payments.reconciliation import Reconciliation
from services.payments.settlement import Settlement, Settler, locked
from services.payments.states import OPEN, SETTLED_UNPAID
from services.people import Among, PeopleService
from services.phones import display_phone, looks_like_phone, normalise_phone

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(minutes=2)
PURPOSE_MAX = 100


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


class PaymentService:
    """Requests, and the parts of the payments package one running process shares: the
    settlement, the callback intake and the reconciliation, built once here."""

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
        ledger: LedgerService | None = None,
    ) -> None:
        self.daraja = daraja
        self.notifier = notifier
        self.outbox = outbox
        self.clock = clock
        self.company = company
        self.messages = PaymentMessages(notifier)
        self.settler = Settler(ledger or LedgerService(clock), self.messages, outbox, clock)
        self.intake = Intake(self.settler)
        self.reconciliation = Reconciliation(
            daraja,
            self.settler,
            self.intake,
            query_after=query_after,
            give_up_after=give_up_after,
        )

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
        await self.push(payment)
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
        event_id: int | None = None,
    ) -> Payment:
        """Write the payment row (initiated) in the caller's transaction; `push` sends it.

        A resend stays in its original's batch; resending one payment twice is refused
        even when two presses race (the original is locked while this one is written).
        `event_id`: the event it is for (a client's deposit), when no batch names one."""
        now = self.clock.now()
        if resend_of is not None:
            old = await locked(conn, id=resend_of)
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
        await self.messages.notify_status(payment, conn, payer=False)
        return payment

    async def resend(self, actor: Person, payment_id: int) -> Payment:
        require_manager(actor, "ask for payments")
        old = await self.get(payment_id)
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
            failed = Settlement(PaymentStatus.FAILED, exc.human_reason)
            await self.settler.settle_now(payment.id, failed)
            return
        except DarajaUnavailable as exc:
            log.warning("payment %s not sent: %s", payment.id, exc)
            reason = "M-Pesa could not be reached, so nothing was sent; try Resend in a minute"
            await self.settler.settle_now(payment.id, Settlement(PaymentStatus.FAILED, reason))
            return
        except DarajaUnknownOutcome as exc:
            log.warning("payment %s outcome unknown: %s", payment.id, exc)
            await self.reconciliation.mark_unknown(
                payment.id,
                "no answer from M-Pesa: a prompt may be on the payer's phone. Ask them before "
                "resending",
            )
            return
        except DarajaError as exc:
            log.error("payment %s: Daraja answered outside its contract: %s", payment.id, exc)
            await self.reconciliation.mark_unknown(
                payment.id, "M-Pesa gave an answer we do not understand"
            )
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
                await self.messages.notify_status(fresh, conn)
        self.outbox.wake()
        log.info("payment %s pending: checkout=%s", payment.id, accepted.checkout_request_id)
        await self.intake.apply_waiting(accepted.checkout_request_id)

    async def check_status(self, actor: Person, payment_id: int) -> Payment:
        """The Check status button: ask Daraja now (the reconciliation path)."""
        payment = await self.get(payment_id)
        if not actor.is_manager and payment.person_id != actor.id:  # type: ignore[attr-defined]
            raise NotAllowed("That payment is not yours.")
        if payment.status in OPEN:
            await self.reconciliation.check_now(payment)
        return await Payment.get(id=payment.id)

    async def get(self, payment_id: int) -> Payment:
        payment = await Payment.get_or_none(id=payment_id)
        if payment is None:
            raise PaymentNotFound(f"There is no payment #{payment_id}.")
        return payment
