"""Deposits: making one (and its link), finding one by its link, and paying an instalment
through the same payment path as /request (PaymentService.initiate, then push)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Deposit,
    DepositStatus,
    Event,
    EventStatus,
    Instalment,
    InstalmentPayment,
    Invoice,
    NotificationKind,
    PaymentStatus,
    Person,
    Receipt,
)
from services import audit
from services.checkout._errors import BadDeposit, LinkNotValid, NothingToPay, TooMany
from services.checkout._invoices import close_paid, open_checkout
from services.checkout._limits import SlidingWindow
from services.checkout._links import NewLink, new_token, relink
from services.checkout._links import target as relink_target
from services.checkout._plan import DepositAsk, due_dates, link_expiry, split
from services.checkout._view import CheckoutView, Line, State, changed, load_view
from services.clock import Clock
from services.documents import DocumentService
from services.errors import NotFound, require_manager
from services.outbox import Attachment
from services.payments import PaymentService
from services.phones import normalise_phone

log = logging.getLogger(__name__)

PUSHES_PER_HOUR = 5  # unpaid prompts a link's Pay may send in an hour (due-date ones aside)
REQUESTS_PER_MINUTE = 60  # requests to /pay pages from one address (in this process)
PRESSES_PER_HOUR = 10  # Pay presses from one address (in this process)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewDeposit:
    deposit: Deposit
    event: Event
    instalments: list[Instalment]
    link: str  # shown once: only its hash is kept


class CheckoutService:
    def __init__(
        self,
        payments: PaymentService,
        documents: DocumentService,
        clock: Clock,
        tz: ZoneInfo,
        *,
        base_url: str,
        link_days: int,
        missed_days: int,
    ) -> None:
        self.payments = payments
        self.documents = documents
        self.notifier = payments.notifier
        self.clock = clock
        self.tz = tz
        self.base_url = base_url.rstrip("/")
        self.link_days = link_days
        self.missed_after = timedelta(days=missed_days)
        self.requests = SlidingWindow(clock, REQUESTS_PER_MINUTE, timedelta(minutes=1))
        self.presses = SlidingWindow(clock, PRESSES_PER_HOUR, timedelta(hours=1))
        self.closing = asyncio.Event()  # set at shutdown: live pages' streams end
        self._changed = asyncio.Event()
        payments.settler.watchers.append(self._wake_pages)  # a payment settled here

    # --- limits and live updates --------------------------------------------------------

    def count_request(self, address: str) -> None:
        if not self.requests.allow(address):
            raise TooMany("Too many requests from your network. Wait a minute and try again.")

    def count_push(self, address: str) -> None:
        if not self.presses.allow(address):
            raise TooMany("Too many payment prompts from your network. Try again in an hour.")

    async def wait_for_change(self, seconds: float) -> None:
        """Until a payment is pushed or settled in this process, it shuts down, or `seconds`
        pass (a payment another instance settles is seen by the next look)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._changed.wait()

    def _wake_pages(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        self.closing.set()
        self._wake_pages()

    # --- the manager's side -----------------------------------------------------------

    async def create(self, actor: Person, ask: DepositAsk) -> NewDeposit:
        require_manager(actor, "ask clients for deposits")
        event = await Event.get_or_none(id=ask.event_id)
        if event is None:
            raise NotFound(f"There is no event #{ask.event_id}. See /events for the numbers.")
        if event.status is EventStatus.CANCELLED:
            raise NothingToPay(f"Event #{event.id} {event.title} is cancelled.")
        amounts = split(ask.total, ask.instalments)
        now = self.clock.now()
        dates = due_dates(now, ask.instalments, self.tz)
        token = new_token()
        async with in_transaction() as conn:
            deposit = await Deposit.create(
                event=event,
                client_name=ask.client_name,
                phone=ask.phone,
                total=ask.total,
                created_by=actor,
                token_hash=token_hash(token),
                expires_at=link_expiry(dates[-1], self.link_days),
                created_at=now,
                updated_at=now,
                using_db=conn,
            )
            instalments = [
                Instalment(
                    deposit=deposit,
                    number=n,
                    amount=amount,
                    due_at=due,
                    # The first is asked by the link itself: no due-date push for it.
                    pushed_at=now if n == 1 else None,
                )
                for n, (amount, due) in enumerate(zip(amounts, dates, strict=True), 1)
            ]
            await Instalment.bulk_create(instalments, using_db=conn)
            await audit.record(
                AuditAction.PAYMENT_REQUESTED,
                "deposit",
                deposit.id,
                at=now,
                actor=actor,
                details={
                    "event": event.id,
                    "client": ask.client_name,
                    "total": ask.total,
                    "instalments": ask.instalments,
                },
                using_db=conn,
            )
        log.info("deposit %s for event %s: %s in %s", deposit.id, event.id, ask.total, len(amounts))
        created = await Instalment.filter(deposit_id=deposit.id).order_by("number")
        return NewDeposit(deposit, event, list(created), f"{self.base_url}/pay/{token}")

    async def invoice_link(
        self, conn: BaseDBAsyncClient, invoice: Invoice, event: Event, actor: Person
    ) -> str | None:
        """The checkout of a new invoice, in its transaction: the link for the client, or
        None when the total is more than M-Pesa takes from a link."""
        token = new_token()
        made = await open_checkout(
            conn,
            invoice,
            event,
            actor,
            self.clock.now(),
            digest=token_hash(token),
            days=self.link_days,
        )
        return f"{self.base_url}/pay/{token}" if made else None

    async def relink(self, actor: Person, text: str) -> NewLink:
        """/paylink: a new link for a deposit or an invoice; the old one stops working."""
        require_manager(actor, "make payment links")
        token, now = new_token(), self.clock.now()
        digest = token_hash(token)
        deposit = await relink_target(text, actor, now, digest, self.link_days)
        view, expires = await relink(deposit, actor, now, digest=digest, days=self.link_days)
        return NewLink(view, f"{self.base_url}/pay/{token}", expires)

    async def close_paid_invoices(self) -> int:
        closed = await close_paid(self.notifier, self.clock.now())
        if closed:
            self.payments.outbox.wake()
        return closed

    async def recent(self, actor: Person, limit: int = 10) -> list[CheckoutView]:
        require_manager(actor, "see deposits")
        deposits = await Deposit.all().order_by("-id").limit(limit)
        now = self.clock.now()
        return [await load_view(d, now) for d in deposits]

    # --- the client's side ------------------------------------------------------------

    async def find(self, token: str) -> Deposit:
        """The deposit a link names; LinkNotValid (with `expired`) otherwise."""
        if not 16 <= len(token) <= 100:
            raise LinkNotValid(expired=False)
        deposit = await Deposit.get_or_none(token_hash=token_hash(token))
        if deposit is None:
            raise LinkNotValid(expired=False)
        if deposit.expires_at <= self.clock.now():
            raise LinkNotValid(expired=True)
        return deposit

    async def view(self, deposit: Deposit) -> CheckoutView:
        return await load_view(deposit, self.clock.now())

    async def changed(self, view: CheckoutView) -> bool:
        return await changed(view, self.clock.now())

    async def receipt_pdf(self, deposit: Deposit, payment_id: int) -> Attachment:
        """The receipt of one of this deposit's paid payments; NotFound for any other."""
        link = await InstalmentPayment.get_or_none(
            payment_id=payment_id, instalment__deposit_id=deposit.id
        )
        receipt = await Receipt.get_or_none(payment_id=payment_id) if link else None
        if receipt is None:
            raise NotFound("There is no such receipt.")
        return await self.documents.receipt_pdf(receipt)

    async def pay(self, deposit: Deposit, phone_text: str | None) -> CheckoutView:
        """Pay pressed: a prompt for the first unpaid instalment, unless one is waiting (then
        the page shows it). Two presses racing send one prompt."""
        phone = normalise_phone(phone_text) if phone_text else deposit.phone
        if not phone:
            raise BadDeposit("Enter the M-Pesa number to pay from, like 0712 345 678.")
        view = await self.view(deposit)
        line = view.current
        if line is None:
            raise NothingToPay("Everything is paid. Thank you!")
        if view.event.status is EventStatus.CANCELLED and view.invoice is None:
            # A deposit is for the event; an invoice is owed whatever became of it.
            raise NothingToPay("This event was cancelled, so nothing more is asked. Contact us.")
        if view.in_flight:
            return view
        since = self.clock.now() - timedelta(hours=1)
        # Prompts that were paid are no abuse: an invoice in six parts is six presses.
        pressed = (
            await InstalmentPayment.filter(
                instalment__deposit_id=deposit.id, scheduled=False, created_at__gt=since
            )
            .exclude(payment__status=PaymentStatus.COMPLETED)
            .count()
        )
        if pressed >= PUSHES_PER_HOUR:
            raise TooMany(
                "Too many payment prompts were sent from this link in the last hour. "
                "Try again later."
            )
        await self._push(view, line, phone, scheduled=False)
        return await self.view(deposit)

    async def _push(self, view: CheckoutView, line: Line, phone: str, *, scheduled: bool) -> bool:
        """Claim the deposit's next push (and, on its date, the instalment's due push), write
        the payment and its link in one transaction; then push. False: someone else did."""
        deposit, instalment = view.deposit, line.instalment
        manager = await Person.get(id=deposit.created_by_id)  # type: ignore[attr-defined]
        count = len(view.lines)
        what = view.part(line)
        # The short purpose only passes prepare's checks (the phone, the amount); the one kept
        # names the client, cut to fit, however long their name.
        draft = await self.payments.prepare(phone, instalment.amount, f"{what} #{view.event.id}")
        invoice = view.invoice
        # What the client's M-Pesa message and our statement show (12 characters at most):
        # the invoice's number, like INV26-000045, or the event and deposit.
        reference = f"EV{view.event.id}DEP{deposit.id}"
        if invoice is not None:
            reference = f"INV{invoice.year % 100:02d}-{invoice.seq:06d}"
        # The client pays the company for an event: not a debt on anyone's ledger, even if
        # their phone is someone's on the crew list.
        draft = replace(
            draft,
            person_id=None,
            person_name=None,
            purpose=f"{what} · {deposit.client_name} · #{view.event.id} {view.event.title}"[:100],
            reference=reference[:12],
            description=(
                f"{'Payment' if invoice else 'Instalment'} {instalment.number}"
                if count > 1
                else ("Invoice" if invoice else "Deposit")
            )[:13],
        )
        now = self.clock.now()
        async with in_transaction() as conn:
            claimed = (
                await Deposit.filter(id=deposit.id, pushes=deposit.pushes)
                .using_db(conn)
                .update(pushes=F("pushes") + 1, phone=phone, updated_at=now)
            )
            if scheduled and claimed:
                claimed = (
                    await Instalment.filter(id=instalment.id, pushed_at__isnull=True)
                    .using_db(conn)
                    .update(pushed_at=now)
                )
            if not claimed:
                return False  # another press or instance pushed first
            payment = await self.payments.initiate(conn, manager, draft, event_id=view.event.id)
            await InstalmentPayment.create(
                instalment=instalment,
                payment=payment,
                scheduled=scheduled,
                created_at=now,
                using_db=conn,
            )
            if scheduled:
                await self.notifier.notify(
                    manager,
                    NotificationKind.DEPOSIT,
                    view.told(instalment, missed=False),
                    dedupe_key=f"deposit-due:{instalment.id}",
                    using_db=conn,
                )
        log.info(
            "deposit %s instalment %s: payment %s (%s)",
            deposit.id,
            instalment.number,
            payment.id,
            "due date" if scheduled else "pressed",
        )
        self.payments.outbox.wake()
        self._wake_pages()
        await self.payments.push(payment)
        self._wake_pages()
        return True

    # --- due dates (the checkout worker) ------------------------------------------------

    async def push_due(self, limit: int = 50) -> int:
        """On each later instalment's date, one prompt to the client and a word to the
        manager: once, however many instances look (the instalment's pushed_at is claimed in
        the push's own transaction). Read `limit` at a time, each page after the last: the
        ones left waiting (a prompt already on the phone) never hide those behind them."""
        now = self.clock.now()
        done = 0
        after: Q | None = None
        while True:
            query = Instalment.filter(
                pushed_at__isnull=True,
                due_at__lte=now,
                deposit__status=DepositStatus.OPEN,
                deposit__expires_at__gt=now,
                deposit__event__status__not=EventStatus.CANCELLED,
            )
            if after is not None:
                query = query.filter(after)
            due = await query.order_by("due_at", "id").limit(limit)
            for instalment in due:
                try:
                    done += await self._push_due(instalment, now)
                except Exception:  # one deposit's trouble must not hold back the others'
                    log.exception(
                        "instalment %s: due-date prompt failed; next round", instalment.id
                    )
            if len(due) < limit:
                return done
            last = due[-1]
            after = Q(due_at__gt=last.due_at) | Q(due_at=last.due_at, id__gt=last.id)

    async def _push_due(self, instalment: Instalment, now: datetime) -> int:
        deposit = await Deposit.get(id=instalment.deposit_id)  # type: ignore[attr-defined]
        view = await self.view(deposit)
        line = next(x for x in view.lines if x.instalment.id == instalment.id)
        if line.paid_by is not None:  # paid ahead: nothing to send, ever
            await Instalment.filter(id=instalment.id, pushed_at__isnull=True).update(pushed_at=now)
            return 0
        if view.in_flight or view.state is State.UNCONFIRMED:
            # A prompt is on the phone, or M-Pesa has not said what became of one (it may
            # have paid this very instalment): not claimed, so a later round looks again
            # once it is settled.
            return 0
        return 1 if await self._push(view, line, deposit.phone, scheduled=True) else 0

    async def alert_missed(self, limit: int = 50) -> int:
        """An instalment still unpaid `missed_days` after its date: its manager is told, once.
        An invoice's parts are due together: the first round claims them all and tells once,
        naming the part to pay next. An invoice is owed even if its event was cancelled."""
        now = self.clock.now()
        late = (
            await Instalment.filter(
                Q(deposit__event__status__not=EventStatus.CANCELLED)
                | Q(deposit__invoice_id__isnull=False),
                missed_at__isnull=True,
                due_at__lte=now - self.missed_after,
                deposit__status=DepositStatus.OPEN,
            )
            .order_by("due_at", "id")
            .limit(limit)
        )
        told = 0
        for instalment in late:
            try:
                told += await self._alert(instalment, now)
            except Exception:  # one deposit's trouble must not hold back the others' alerts
                log.exception("instalment %s: missed alert failed; next round", instalment.id)
        if told:
            self.payments.outbox.wake()
        return told

    async def _alert(self, instalment: Instalment, now: datetime) -> int:
        deposit = await Deposit.get(id=instalment.deposit_id)  # type: ignore[attr-defined]
        view = await self.view(deposit)
        line = next(x for x in view.lines if x.instalment.id == instalment.id)
        claim = Instalment.filter(missed_at__isnull=True)
        if view.invoice is not None:  # its parts at once: the alert names the next to pay
            line = view.current or line
            claim = claim.filter(deposit_id=deposit.id)
        else:
            claim = claim.filter(id=instalment.id)
        async with in_transaction() as conn:
            claimed = await claim.using_db(conn).update(missed_at=now)
            if not claimed or line.paid_by is not None:
                return 0
            manager = await Person.get(id=deposit.created_by_id).using_db(conn)  # type: ignore[attr-defined]
            await self.notifier.notify(
                manager,
                NotificationKind.DEPOSIT,
                view.told(line.instalment, missed=True),
                dedupe_key=f"deposit-missed:{line.instalment.id}",
                using_db=conn,
            )
        return 1
