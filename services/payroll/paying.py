"""Paying an approved sheet: Pay (the Account Balance check first), one B2C per payout, and
confirming what M-Pesa did not tell us with Transaction Status.

    PayRuns(payroll, daraja, clock, urls=…, rate=…)
      .pay(actor, sheet_id)   Pay, Pay again (after a stop) and Retry failed: failed lines get
                              a new attempt, then the balance is asked; the run starts when
                              the result says it covers the queued net plus fees
      .send_one(), .due_in()  the sender's turn: claim one queued payout and send it, at
                              most DARAJA_B2C_RATE a second
      .sweep()                stale balance checks stopped; payouts sent or unknown for a
                              while asked about with Transaction Status

A payout is SENT from its claim (`claim_payout`), before the request leaves: after a crash it
may have reached Daraja, so only Transaction Status settles it, never a second request.
"Nothing happened" answers (Daraja unreachable, the token refused before the request was
read) put it back in the queue under the same OriginatorConversationID.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Event,
    PayLine,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
    Person,
)
from services import audit
from services.clock import Clock
from services.daraja import (
    DarajaAuthError,
    DarajaClient,
    DarajaConfigError,
    DarajaError,
    DarajaRejected,
    DarajaUnavailable,
    DarajaUnknownOutcome,
    fit_remarks,
)
from services.daraja.results import Product
from services.daraja.urls import result_url, timeout_url
from services.errors import require_manager
from services.payroll import _outcomes as outcomes
from services.payroll._approval import originator_id
from services.payroll._errors import NotReady, SheetClosed
from services.payroll._service import PayrollService, locked_sheet
from services.payroll.payouts import claim_payout
from services.worker import Worker

log = logging.getLogger(__name__)

# Fees come out of the Charges Paid account, but a run that would leave nothing for them is
# refused: this much per payout is kept aside (Safaricom's B2C fee tops out near KES 23).
DEFAULT_FEE_ALLOWANCE = 23
DEFAULT_CONFIRM_AFTER = timedelta(minutes=2)  # a payout with no result this long is asked about
DEFAULT_BALANCE_WAIT = timedelta(minutes=2)  # a balance check unanswered this long stops the run
# "No such transaction" proves a payout failed only once Daraja has had time to take it.
DEFAULT_NOT_FOUND_AFTER = timedelta(minutes=10)
SWEEP_BATCH = 50
SUMMARY_EVERY = 1.0  # seconds: the live summary is re-rendered at most this often per sheet


@dataclass(frozen=True)
class ResultUrls:
    base: str  # PUBLIC_BASE_URL
    secret: str  # DARAJA_CALLBACK_SECRET

    def of(self, product: Product) -> dict[str, str]:
        return {
            "result_url": result_url(self.base, product, self.secret),
            "timeout_url": timeout_url(self.base, product, self.secret),
        }


class PayRuns:
    def __init__(
        self,
        payroll: PayrollService,
        daraja: DarajaClient | None,
        clock: Clock,
        *,
        urls: ResultUrls | None,
        rate: float = 5.0,
        fee_allowance: int = DEFAULT_FEE_ALLOWANCE,
        confirm_after: timedelta = DEFAULT_CONFIRM_AFTER,
        balance_wait: timedelta = DEFAULT_BALANCE_WAIT,
        not_found_after: timedelta = DEFAULT_NOT_FOUND_AFTER,
    ) -> None:
        self.payroll = payroll
        self.notifier = payroll.notifier
        self.daraja = daraja
        self.clock = clock
        self.urls = urls
        self.rate = rate
        self.fee_allowance = fee_allowance
        self.confirm_after = confirm_after
        self.balance_wait = balance_wait
        self.not_found_after = not_found_after
        self.sender: Worker | None = None  # woken when results arrive or a run is cleared
        self._next_send = 0.0  # the event loop's time from which the next payout may go
        self._stale: dict[int, float] = {}  # sheet id → when its summary was marked stale
        self._refreshed: dict[int, float] = {}  # sheet id → when its summary may be queued again

    @property
    def configured(self) -> bool:
        return self.daraja is not None and self.daraja.payouts_configured and self.urls is not None

    def wake(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def refresh_soon(self, sheet_id: int) -> None:
        """The sheet's live summary changed: the sender refreshes it within a second."""
        self._stale.setdefault(sheet_id, asyncio.get_running_loop().time())

    async def refresh_summaries(self) -> int:
        """Queue the live summary of each sheet marked stale: at most once a second each, and
        for a sheet so large that rendering it takes long, at most a tenth of the time."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = [s for s in self._stale if now >= self._refreshed.get(s, 0.0)]
        for sheet_id in due:
            del self._stale[sheet_id]
            started = loop.time()
            async with in_transaction() as conn:
                sheet = await PaySheet.filter(id=sheet_id).using_db(conn).get()
                await self.publish(sheet, conn)
            took = loop.time() - started
            self._refreshed[sheet_id] = started + max(SUMMARY_EVERY, took * 10)
        return len(due)

    def summary_due_in(self) -> float | None:
        """Seconds until a stale summary may be refreshed; None when none is stale."""
        if not self._stale:
            return None
        now = asyncio.get_running_loop().time()
        return max(0.0, min(self._refreshed.get(s, 0.0) - now for s in self._stale))

    async def publish(self, sheet: PaySheet, conn: object) -> None:
        """The live summary: the sheet message of whoever pressed Pay last."""
        person_id = sheet.pay_started_by_id or sheet.approved_by_id  # type: ignore[attr-defined]
        if person_id is None:
            return
        person = await Person.filter(id=person_id).using_db(conn).get()  # type: ignore[arg-type]
        await self.payroll.publish(person, sheet, conn)  # type: ignore[arg-type]

    # --- Pay --------------------------------------------------------------------------

    async def pay(self, actor: Person, sheet_id: int, *, chat_id: int | None = None) -> int:
        """Queue what is left to pay and ask the balance; returns the net total queued."""
        require_manager(actor, "pay the crew")
        if not self.configured:
            raise NotReady(
                "Paying by M-Pesa is not set up: set DARAJA_INITIATOR_NAME, "
                "DARAJA_INITIATOR_PASSWORD and DARAJA_CERTIFICATE (see the README, Payday)."
            )
        assert self.daraja is not None and self.urls is not None
        now = self.clock.now()
        async with in_transaction() as conn:
            sheet = await locked_sheet(sheet_id, conn)
            payouts = list(
                await Payout.filter(sheet_id=sheet.id)
                .exclude(status=PayoutStatus.CANCELLED)
                .order_by("line_id", "attempt")
                .using_db(conn)
            )
            busy = [p for p in payouts if p.status in (PayoutStatus.SENT, PayoutStatus.UNKNOWN)]
            stale_check = (
                sheet.status is PaySheetStatus.CHECKING
                and sheet.balance_asked_at is not None
                and sheet.balance_asked_at <= now - self.balance_wait
            )
            if sheet.status in (PaySheetStatus.DRAFT, PaySheetStatus.SUBMITTED):
                raise SheetClosed(f"Version {sheet.version} is not approved yet.")
            if sheet.status is PaySheetStatus.SUPERSEDED:
                raise SheetClosed(f"Version {sheet.version} was replaced by a newer version.")
            if sheet.status is PaySheetStatus.CHECKING and not stale_check:
                raise SheetClosed("The M-Pesa balance is being checked: wait for the answer.")
            if sheet.status is PaySheetStatus.PAID:
                raise SheetClosed(f"Version {sheet.version} is paid in full.")
            if sheet.status is PaySheetStatus.PAYING and (
                busy or any(p.status is PayoutStatus.QUEUED for p in payouts)
            ):
                raise SheetClosed(
                    "Paying is under way: Retry failed is offered once every payout has an answer."
                )
            retried = await self._requeue_failed(sheet, payouts, conn)
            queued = await Payout.filter(sheet_id=sheet.id, status=PayoutStatus.QUEUED).using_db(
                conn
            )
            if not queued:
                raise NotReady("There is nothing left to pay on this sheet.")
            await (
                PaySheet.filter(id=sheet.id)
                .using_db(conn)
                .update(
                    status=PaySheetStatus.CHECKING,
                    pay_started_by_id=actor.id,
                    balance_asked_at=now,
                    balance_conversation_id=None,
                    stop_reason=None,
                    updated_at=now,
                )
            )
            net = sum(p.amount for p in queued)
            await audit.record(
                AuditAction.PAYROLL_PAY_STARTED,
                "pay_sheet",
                sheet.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"payouts": len(queued), "net": net, "retried": retried},
                using_db=conn,
            )
            await self.publish(await PaySheet.filter(id=sheet.id).using_db(conn).get(), conn)
        try:
            accepted = await self.daraja.account_balance(
                **self.urls.of(Product.ACCOUNT_BALANCE), remarks="Balance before payroll"
            )
        except DarajaError as exc:
            reason = f"Could not ask M-Pesa for the balance ({exc}). Press Pay again."
            async with in_transaction() as conn:
                await outcomes.stop(self, sheet_id, reason, conn, alert=False)
            raise NotReady(reason) from exc
        await PaySheet.filter(id=sheet_id, status=PaySheetStatus.CHECKING).update(
            balance_conversation_id=accepted.conversation_id[:64]
        )
        return net

    async def _requeue_failed(self, sheet: PaySheet, payouts: list[Payout], conn: object) -> int:
        """A new attempt (a new OriginatorConversationID) for each line whose latest attempt
        definitely failed and that no attempt paid."""
        latest: dict[int, Payout] = {}
        paid: set[int] = set()
        for payout in payouts:
            line_id: int = payout.line_id  # type: ignore[attr-defined]
            latest[line_id] = payout
            if payout.status is PayoutStatus.PAID:
                paid.add(line_id)
        now = self.clock.now()
        fresh: list[Payout] = []
        for line_id, last in latest.items():
            if last.status is not PayoutStatus.FAILED or line_id in paid:
                continue
            line = await PayLine.filter(id=line_id).using_db(conn).get()  # type: ignore[arg-type]
            person = await Person.filter(id=line.person_id).using_db(conn).get()  # type: ignore[attr-defined,arg-type]
            attempt = last.attempt + 1
            fresh.append(
                Payout(
                    sheet_id=sheet.id,
                    line_id=line_id,
                    attempt=attempt,
                    originator_conversation_id=originator_id(line_id, attempt),
                    amount=line.net,
                    phone=person.phone,
                    created_at=now,
                    updated_at=now,
                )
            )
        if fresh:
            await Payout.bulk_create(fresh, using_db=conn)  # type: ignore[arg-type]
        return len(fresh)

    # --- the sender's turn ------------------------------------------------------------

    def due_in(self) -> float:
        """Seconds until this instance may send its next payout (DARAJA_B2C_RATE)."""
        return max(0.0, self._next_send - asyncio.get_running_loop().time())

    async def send_one(self) -> bool:
        """Claim the oldest queued payout of a run being paid and send it; False when none."""
        payout = await claim_payout(self.clock)
        if payout is None:
            return False
        self._next_send = asyncio.get_running_loop().time() + 1.0 / self.rate
        await self._send(payout)
        return True

    async def _send(self, payout: Payout) -> None:
        assert self.daraja is not None and self.urls is not None
        sheet = await PaySheet.get(id=payout.sheet_id)  # type: ignore[attr-defined]
        event = await Event.get(id=sheet.event_id)  # type: ignore[attr-defined]
        words = fit_remarks(f"Wages EV{event.id}")
        urls = self.urls.of(Product.B2C)
        try:
            accepted = await self.daraja.b2c_payment(
                payout.originator_conversation_id,
                payout.phone,
                payout.amount,
                words,
                f"EV{event.id}",
                result_url=urls["result_url"],
                timeout_url=urls["timeout_url"],
            )
        except DarajaUnknownOutcome as exc:
            async with in_transaction() as conn:
                await outcomes.mark_unknown(
                    self, payout, f"M-Pesa's answer was lost ({exc}); checking", conn
                )
                await outcomes.settle_sheet(self, sheet.id, conn)
            return
        except DarajaAuthError as exc:
            await self._back_to_queue(payout)
            async with in_transaction() as conn:
                await outcomes.stop(
                    self,
                    sheet.id,
                    f"M-Pesa refused our API credentials ({exc}). Check DARAJA_CONSUMER_KEY "
                    "and DARAJA_CONSUMER_SECRET, then press Pay again.",
                    conn,
                )
            return
        except DarajaUnavailable:
            await self._back_to_queue(payout)
            raise  # the sender pauses, then tries the same id again
        except (DarajaRejected, DarajaConfigError) as exc:
            async with in_transaction() as conn:
                await outcomes.mark_failed(self, payout, None, str(exc), f"Not sent: {exc}", conn)
                await outcomes.settle_sheet(self, sheet.id, conn)
            return
        await Payout.filter(id=payout.id, conversation_id__isnull=True).update(
            conversation_id=accepted.conversation_id[:64]
        )
        self.refresh_soon(sheet.id)  # the live summary: one more sent

    async def _back_to_queue(self, payout: Payout) -> None:
        """Nothing reached Daraja: queued again, with the same id."""
        await Payout.filter(id=payout.id, status=PayoutStatus.SENT).update(
            status=PayoutStatus.QUEUED, sent_at=None, updated_at=self.clock.now()
        )

    # --- the sweep --------------------------------------------------------------------

    async def sweep(self) -> int:
        """Balance checks unanswered for too long stop their run; payouts sent or unknown for
        a while (results are never resent) are asked about. Returns how many were acted on."""
        now = self.clock.now()
        done = 0
        stale = await PaySheet.filter(
            status=PaySheetStatus.CHECKING, balance_asked_at__lte=now - self.balance_wait
        ).only("id")
        for sheet_id in (s.id for s in stale):
            async with in_transaction() as conn:
                if await outcomes.stop(
                    self,
                    sheet_id,
                    "M-Pesa did not answer the balance check. Press Pay again.",
                    conn,
                    states=(PaySheetStatus.CHECKING,),
                    alert=False,
                ):
                    done += 1
        due = now - self.confirm_after
        asks = (
            await Payout.filter(
                Q(status=PayoutStatus.SENT, sent_at__lte=due)
                | Q(status=PayoutStatus.UNKNOWN, updated_at__lte=due),
                Q(checked_at__isnull=True) | Q(checked_at__lte=due),
            )
            .order_by("id")
            .limit(SWEEP_BATCH)
        )
        for payout in asks:
            claimed = await Payout.filter(
                Q(checked_at__isnull=True) | Q(checked_at__lte=due), id=payout.id
            ).update(checked_at=now)
            if not claimed:
                continue  # another instance asks about it
            await self.confirm(payout)
            done += 1
        return done

    async def confirm(self, payout: Payout) -> None:
        """Ask Transaction Status about one payout (by our id); the answer is a result post."""
        assert self.daraja is not None and self.urls is not None
        try:
            await self.daraja.transaction_status(
                **self.urls.of(Product.TRANSACTION_STATUS),
                originator_id=payout.originator_conversation_id,
                occasion=payout.originator_conversation_id,
            )
        except DarajaError as exc:
            log.warning(
                "Transaction Status for payout %s not asked (%s); asked again later",
                payout.originator_conversation_id,
                exc,
            )
