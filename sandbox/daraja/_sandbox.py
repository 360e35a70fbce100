"""The Daraja stand-in's server and the hooks a test or the demo drives it with."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
from aiohttp import web

from sandbox.daraja._callbacks import CallbackSender
from sandbox.daraja._checks import daraja_errors, issue_token
from sandbox.daraja._operator import OperatorEndpoints
from sandbox.daraja._operator_state import (
    DeliveredResult,
    Delivery,
    Payout,
    PayoutPlan,
    Reversal,
)
from sandbox.daraja._state import DeliveredCallback, Fault, Outcome, ReceivedPush, SandboxState
from sandbox.daraja._stk import StkEndpoints


class DarajaSandbox(SandboxState):
    """Listens on a free port; its settings and records are SandboxState's attributes."""

    # lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        callbacks = CallbackSender(self)
        stk = StkEndpoints(self, callbacks)
        app = web.Application(middlewares=[daraja_errors])
        app.router.add_get("/oauth/v1/generate", self._oauth)
        app.router.add_post("/mpesa/stkpush/v1/processrequest", stk.push)
        app.router.add_post("/mpesa/stkpushquery/v1/query", stk.query)
        operator = OperatorEndpoints(self, callbacks)
        app.router.add_post("/mpesa/b2c/v3/paymentrequest", operator.b2c)
        app.router.add_post("/mpesa/transactionstatus/v1/query", operator.status)
        app.router.add_post("/mpesa/accountbalance/v1/query", operator.balance)
        app.router.add_post("/mpesa/reversal/v1/request", operator.reversal)
        self.runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self.runner.setup()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.host = host
        await self._listen(port)

    async def stop(self) -> None:
        self.stopping.set()
        for event in self.held.values():
            event.set()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def __aenter__(self) -> DarajaSandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _listen(self, port: int) -> None:
        assert self.runner is not None
        self.site = web.TCPSite(self.runner, self.host, port)
        await self.site.start()
        server = self.site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    async def _oauth(self, request: web.Request) -> web.Response:
        return issue_token(self, request)

    async def set_fault(self, fault: Fault) -> None:
        """DOWN stops listening (connection refused); anything else listens again."""
        if fault is Fault.DOWN and self.site is not None:
            await self.site.stop()
            self.site = None
            server = self.runner.server if self.runner is not None else None
            for connection in server.connections if server is not None else []:
                connection.force_close()  # kept-alive connections die with the server
            for _ in range(100):  # let the closes reach connection_lost
                if server is None or not server.connections:
                    break
                await asyncio.sleep(0)
        elif fault is not Fault.DOWN and self.site is None and self.runner is not None:
            await self._listen(self.port)
        self.fault = fault

    # test and demo hooks

    def next_outcome(self, phone: str | None, outcome: Outcome) -> None:
        """The next push to `phone` (any phone when None) ends with `outcome`."""
        self.queued[phone].append(outcome)

    def set_outcome(self, phone: str, outcome: Outcome) -> None:
        """Every push to `phone` ends with `outcome` (unless a next_outcome is queued)."""
        self.sticky[phone] = outcome

    def expire_tokens(self) -> None:
        self.token_expires = self.clock() - timedelta(seconds=1)

    async def release(self, checkout_id: str, outcome: Outcome = Outcome.SUCCESS) -> None:
        """Let a HOLD push end with `outcome` and wait for its callback to be delivered."""
        before = len(self.delivered_for(checkout_id))
        self.held_outcome[checkout_id] = outcome
        self.held[checkout_id].set()
        await self.wait_for_callback(checkout_id, count=before + 1)

    def delivered_for(self, checkout_id: str) -> list[DeliveredCallback]:
        return [c for c in self.callbacks_delivered if c.checkout_id == checkout_id]

    async def wait_for_callback(self, checkout_id: str, count: int = 1) -> list[DeliveredCallback]:
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.delivered_for(checkout_id)) >= count)
        return self.delivered_for(checkout_id)

    async def wait_for_pushes(self, accepted: int) -> list[ReceivedPush]:
        """Wait until this many pushes have been accepted (a prompt is on each phone)."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.stats.pushes_accepted >= accepted)
        return [p for p in self.pushes if p.checkout_id is not None]

    async def wait_for_result(self, checkout_id: str) -> tuple[int, str]:
        """Wait until the payer's answer is decided (with or without a callback)."""
        checkout = self.checkouts[checkout_id]
        async with self.changed:
            await self.changed.wait_for(lambda: checkout.result is not None)
        assert checkout.result is not None
        return checkout.result

    def result_of(self, checkout_id: str) -> tuple[int, str] | None:
        return self.checkouts[checkout_id].result

    # operator API hooks (B2C, Transaction Status, Account Balance, Reversal)

    def next_payout(
        self, phone: str | None, code: str = "0", delivery: Delivery = Delivery.NORMAL
    ) -> None:
        """The next payout to `phone` (2547…, or any phone when None) ends with result `code`
        (unless the credential, shortcode, amount or balance fails it first), its result
        delivered as `delivery`."""
        self.payout_plans[phone].append(PayoutPlan(code, delivery))

    def next_reversal(self, delivery: Delivery) -> None:
        """The next reversal's result is delivered as `delivery` (LOST: never posted)."""
        self.reversal_plans.append(delivery)

    def reversal_of(self, receipt: str) -> Reversal | None:
        """The reversal of the paid push with this receipt, if one was made."""
        return self.reversals.get(receipt)

    def lock_credential(self, locked: bool = True) -> None:
        """Every operator request ends with 8006, as after too many wrong passwords."""
        self.credential_locked = locked

    def payout(self, originator_id: str) -> Payout | None:
        return self.payouts.get(originator_id)

    def results_for(self, key: str) -> list[DeliveredResult]:
        return [r for r in self.results_delivered if r.key == key]

    async def wait_for_results(self, key: str, count: int = 1) -> list[DeliveredResult]:
        """Wait until `count` result (or QueueTimeOut) posts about `key` were attempted."""
        async with self.changed:
            await self.changed.wait_for(lambda: len(self.results_for(key)) >= count)
        return self.results_for(key)
