"""The pay sender: the background loop that applies operator results, pays queued payouts
at DARAJA_B2C_RATE, sends approved refunds and sweeps what M-Pesa left unanswered. Every
instance runs one; the
claims (`claim_payout`, the result rows, `checked_at`) keep them from doing anything twice.

Each round applies the results that arrived first, so a stop code stops the run before the
next payout is claimed; between two payouts the sender waits out the pace, woken early by
any result that arrives meanwhile."""

from __future__ import annotations

import asyncio

from services.payroll.paying import PayRuns
from services.payroll.results import OperatorResults
from services.refunds import Refunds
from services.worker import Worker

SWEEP_EVERY = 15.0  # seconds between sweeps for stale balance checks and silent payouts


class PaySender(Worker):
    name = "pay-sender"

    def __init__(
        self, runs: PayRuns, results: OperatorResults, refunds: Refunds | None = None
    ) -> None:
        super().__init__(idle_seconds=SWEEP_EVERY)
        self.runs = runs
        self.results = results
        self.refunds = refunds
        self._next_sweep = 0.0
        runs.sender = self

    def sweep_now(self) -> None:
        """Sweep at the next round rather than on schedule (the clock moved, in tests)."""
        self._next_sweep = 0.0
        self.wake()

    async def round(self) -> int:
        done = await self.results.apply_pending()
        now = asyncio.get_running_loop().time()
        sweeping = now >= self._next_sweep
        if sweeping:
            self._next_sweep = now + SWEEP_EVERY
            done += await self.runs.sweep()
        if self.refunds is not None:
            # Refunds are few: each approved one goes at once; one whose outcome just became
            # unknown is asked about at once, the others at the sweep.
            while await self.refunds.send_one():
                done += 1
            if sweeping or self.refunds.take_ask_soon():
                done += await self.refunds.sweep()
        done += await self.runs.refresh_summaries()
        wait = self.runs.due_in()
        if wait > 0:
            await self.pause(wait)
            return 1  # not idle: the next payout may be due
        if await self.runs.send_one():
            return done + 1
        summary = self.runs.summary_due_in()
        if summary is not None:  # nothing to send, a summary to refresh soon
            await self.pause(summary)
            return 1
        return done
