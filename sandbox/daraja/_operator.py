"""The operator endpoints: B2C payment, Transaction Status, Account Balance, Reversal.

Each answers "accepted" at once and POSTs the outcome to the ResultURL. The
outcome of a payout is decided when it is accepted (so Transaction Status
always knows it); its `Delivery` only decides whether and how it is posted.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from sandbox.daraja import _operator_checks as checks
from sandbox.daraja._callbacks import CallbackSender
from sandbox.daraja._checks import Refusal, bad, check_token, json_body
from sandbox.daraja._operator_results import (
    b2c_result,
    balance_string,
    conversation_id,
    daraja_originator_id,
    deliver,
    deliver_later,
    params,
    result_body,
    reversal_parameters,
    reversal_status,
    status_parameters,
)
from sandbox.daraja._operator_state import (
    PAYOUT_RESULTS,
    Delivery,
    Payout,
    PayoutPlan,
    Reversal,
)
from sandbox.daraja._state import NAIROBI, Fault, SandboxState

_MIN, _MAX, _DAILY = 10, 250_000, 500_000
_NOT_FOUND = ("R000002", "The transaction does not exist.")


class OperatorEndpoints:
    def __init__(self, state: SandboxState, callbacks: CallbackSender) -> None:
        self._state = state
        self._callbacks = callbacks

    async def _read(self, request: web.Request) -> dict[str, Any]:
        try:
            check_token(self._state, request)
            body = await json_body(request)
            if self._state.fault is Fault.BUSY:
                raise Refusal(500, "500.003.02", "Spike arrest violation")
        except Refusal as refusal:
            self._state.operator_stats.refused.append(refusal.code)
            raise
        return body

    def _accepted(self, conversation: str, originator: str) -> web.Response:
        return web.json_response(
            {
                "ConversationID": conversation,
                "OriginatorConversationID": originator,
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
            }
        )

    def _refused(self, refusal: Refusal) -> Refusal:
        self._state.operator_stats.refused.append(refusal.code)
        return refusal

    async def b2c(self, request: web.Request) -> web.Response:
        """POST /mpesa/b2c/v3/paymentrequest"""
        state = self._state
        body = await self._read(request)
        try:
            originator, phone, amount = checks.check_b2c(body)
        except Refusal as refusal:
            raise self._refused(refusal) from None
        if originator in state.payouts:
            raise self._refused(checks.duplicate())
        now = state.clock()
        plan = self._plan(phone)
        code = self._payout_code(body, phone, amount, plan)
        if code == "0":
            state.utility_balance -= amount
        payout = Payout(
            originator_id=originator,
            conversation_id=conversation_id(now),
            phone=phone,
            amount=amount,
            command=str(body["CommandID"]),
            result_url=str(body["ResultURL"]),
            timeout_url=str(body["QueueTimeOutURL"]),
            code=code,
            desc=PAYOUT_RESULTS.get(code, "Failed."),
            transaction_id=self._callbacks.new_receipt(),
            completed_at=now,
            delivery=plan.delivery,
        )
        state.payouts[originator] = payout
        state.operator_stats.payouts_accepted += 1
        await self._send_payout_result(payout, body)
        if state.fault is Fault.INTERNAL:
            raise Refusal(500, "500.003.1001", "Internal Server Error")
        if state.fault is Fault.SLOW:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.stopping.wait(), state.slow_seconds)
        return self._accepted(payout.conversation_id, originator)

    async def status(self, request: web.Request) -> web.Response:
        """POST /mpesa/transactionstatus/v1/query"""
        state = self._state
        body = await self._read(request)
        try:
            checks.check_status(body)
        except Refusal as refusal:
            raise self._refused(refusal) from None
        state.operator_stats.status_queries += 1
        conversation, originator = conversation_id(state.clock()), daraja_originator_id()
        reference = {"Key": "Occasion", "Value": str(body.get("Occasion", ""))}
        code = checks.credential_code(state, body, "Initiator")
        if code is not None:
            result = result_body(
                code, PAYOUT_RESULTS[code], originator, conversation, "", None, reference
            )
        else:
            result = self._status_result(body, originator, conversation, reference)
        self._spawn("transaction_status", originator, str(body["ResultURL"]), result)
        return self._accepted(conversation, originator)

    async def balance(self, request: web.Request) -> web.Response:
        """POST /mpesa/accountbalance/v1/query"""
        state = self._state
        body = await self._read(request)
        try:
            checks.check_balance(body)
        except Refusal as refusal:
            raise self._refused(refusal) from None
        state.operator_stats.balance_queries += 1
        conversation, originator = conversation_id(state.clock()), daraja_originator_id()
        code = checks.credential_code(state, body, "Initiator") or (
            "2001" if str(body["PartyA"]) != state.b2c_shortcode else "0"
        )
        parameters = None
        if code == "0":
            parameters = params(
                AccountBalance=balance_string(state.utility_balance),
                BOCompletedTime=int(f"{state.clock().astimezone(NAIROBI):%Y%m%d%H%M%S}"),
            )
        desc = PAYOUT_RESULTS[code]
        reference = {"Key": "QueueTimeoutURL", "Value": str(body["QueueTimeOutURL"])}
        result = result_body(code, desc, originator, conversation, "", parameters, reference)
        self._spawn("account_balance", originator, str(body["ResultURL"]), result)
        return self._accepted(conversation, originator)

    async def reversal(self, request: web.Request) -> web.Response:
        """POST /mpesa/reversal/v1/request"""
        state = self._state
        body = await self._read(request)
        try:
            receipt, amount = checks.check_reversal(body)
        except Refusal as refusal:
            raise self._refused(refusal) from None
        conversation, originator = conversation_id(state.clock()), daraja_originator_id()
        paid = next((c for c in state.checkouts.values() if c.receipt == receipt), None)
        code = checks.credential_code(state, body, "Initiator")
        if code is None and str(body["ReceiverParty"]) != state.b2c_shortcode:
            code = "2001"
        if code is None and paid is None:
            code = _NOT_FOUND[0]
        elif code is None and receipt in state.reversals:
            code = "R000001"
        elif code is None and paid is not None and amount != paid.amount:
            raise self._refused(bad("Amount"))  # only whole reversals exist
        elif code is None and amount > state.utility_balance:
            code = "1"
        parameters = None
        transaction_id = ""
        if code is None:
            assert paid is not None
            code = "0"
            state.utility_balance -= amount
            record = Reversal(
                self._callbacks.new_receipt(),
                receipt,
                amount,
                code,
                state.clock(),
                originator_id=originator,
                conversation_id=conversation,
                phone=paid.phone,
            )
            state.reversals[receipt] = record
            transaction_id = record.transaction_id
            parameters = reversal_parameters(record, paid.phone, state.utility_balance)
        state.operator_stats.reversals_accepted += 1
        delivery = state.reversal_plans.popleft() if state.reversal_plans else Delivery.NORMAL
        desc = {"R000001": "The transaction has already been reversed.", "R000002": _NOT_FOUND[1]}
        result = result_body(
            code,
            desc.get(code) or PAYOUT_RESULTS.get(code, "Failed."),
            originator,
            conversation,
            transaction_id,
            parameters,
            {"Key": "Occasion", "Value": str(body.get("Occasion", ""))},
        )
        if delivery is Delivery.QUEUE_TIMEOUT:
            echo = {k: v for k, v in body.items() if k != "SecurityCredential"}
            echo["OriginatorConversationID"] = originator
            echo["ConversationID"] = conversation
            self._callbacks.spawn(
                self._timeout_later(originator, str(body["QueueTimeOutURL"]), echo, "reversal")
            )
        elif delivery is not Delivery.LOST:  # a lost result: only Transaction Status knows
            times = 2 if delivery is Delivery.TWICE else 1
            self._callbacks.spawn(
                deliver_later(
                    state, "reversal", originator, str(body["ResultURL"]), result, times=times
                )
            )
        return self._accepted(conversation, originator)

    # helpers

    def _plan(self, phone: str) -> PayoutPlan:
        for key in (phone, None):
            if self._state.payout_plans[key]:
                return self._state.payout_plans[key].popleft()
        return PayoutPlan()

    def _payout_code(self, body: dict[str, Any], phone: str, amount: int, plan: PayoutPlan) -> str:
        state = self._state
        code = checks.credential_code(state, body, "InitiatorName")
        if code is not None:
            return code
        if str(body["PartyA"]) != state.b2c_shortcode:
            return "2001"  # the operator does not belong to that shortcode
        if plan.code != "0":
            return plan.code
        if amount < _MIN:
            return "2"
        if amount > _MAX:
            return "3"
        today = state.clock().astimezone(NAIROBI).date()
        received = sum(
            p.amount
            for p in state.payouts.values()
            if p.phone == phone and p.paid and p.completed_at.astimezone(NAIROBI).date() == today
        )
        if received + amount > _DAILY:
            return "4"
        if amount > state.utility_balance:
            return "1"
        return "0"

    async def _send_payout_result(self, payout: Payout, body: dict[str, Any]) -> None:
        state = self._state
        if payout.delivery is Delivery.LOST:
            return
        if payout.delivery is Delivery.QUEUE_TIMEOUT:
            echo = {k: v for k, v in body.items() if k != "SecurityCredential"}
            echo["ConversationID"] = payout.conversation_id
            self._callbacks.spawn(
                self._timeout_later(payout.originator_id, payout.timeout_url, echo)
            )
            return
        result = b2c_result(state, payout)
        if payout.delivery is Delivery.BEFORE_RESPONSE:
            await deliver(
                state, "b2c", payout.originator_id, payout.result_url, result, timeout=False
            )
            return
        times = 2 if payout.delivery is Delivery.TWICE else 1
        self._callbacks.spawn(
            deliver_later(
                state, "b2c", payout.originator_id, payout.result_url, result, times=times
            )
        )

    async def _timeout_later(
        self, key: str, url: str, body: dict[str, Any], api: str = "b2c"
    ) -> None:
        await asyncio.sleep(self._state.callback_delay)
        await deliver(self._state, api, key, url, body, timeout=True)

    def _status_result(
        self, body: dict[str, Any], originator: str, conversation: str, reference: dict[str, Any]
    ) -> dict[str, Any]:
        state = self._state
        asked = body.get("OriginalConversationID")
        receipt = body.get("TransactionID")
        payout = state.payouts.get(str(asked)) if asked else None
        if payout is None and receipt:
            payout = next((p for p in state.payouts.values() if p.transaction_id == receipt), None)
        if payout is None:
            found = reversal_status(state, asked, receipt)
            if found is None:
                return result_body(*_NOT_FOUND, originator, conversation, "", None, reference)
            receipt_no, parameters = found
            return result_body(
                "0",
                "The service request has been accepted successfully.",
                originator,
                conversation,
                receipt_no,
                parameters,
                reference,
            )
        return result_body(
            "0",
            "The service request has been accepted successfully.",
            originator,
            conversation,
            payout.transaction_id,
            status_parameters(payout),
            reference,
        )

    def _spawn(self, api: str, key: str, url: str, body: dict[str, Any]) -> None:
        self._callbacks.spawn(deliver_later(self._state, api, key, url, body))
