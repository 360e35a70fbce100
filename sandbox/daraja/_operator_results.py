"""The result posts of the operator APIs, in Daraja's shapes, and their one delivery attempt."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import datetime
from typing import Any

import aiohttp

from sandbox.daraja._operator_state import DeliveredResult, Payout, Reversal
from sandbox.daraja._state import NAIROBI, SandboxState

logger = logging.getLogger(__name__)


def conversation_id(now: datetime) -> str:
    return f"AG_{now.astimezone(NAIROBI):%Y%m%d}_{secrets.token_hex(10)}"


def daraja_originator_id() -> str:
    return f"{secrets.randbelow(99999)}-{secrets.randbelow(99999999)}-1"


def params(**values: object) -> dict[str, Any]:
    return {"ResultParameter": [{"Key": k, "Value": v} for k, v in values.items()]}


def result_body(
    code: str,
    desc: str,
    originator: str,
    conversation: str,
    transaction_id: str,
    parameters: dict[str, Any] | None,
    reference: dict[str, Any],
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ResultType": 0,
        # A number when it is one, as Daraja sends it; SFC_IC0003 and R000001 stay strings.
        "ResultCode": int(code) if code.isdigit() else code,
        "ResultDesc": desc,
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
        "TransactionID": transaction_id,
    }
    if parameters is not None:
        result["ResultParameters"] = parameters
    result["ReferenceData"] = {"ReferenceItem": reference}
    return {"Result": result}


def b2c_result(state: SandboxState, payout: Payout) -> dict[str, Any]:
    parameters = None
    if payout.paid:
        parameters = params(
            TransactionAmount=payout.amount,
            TransactionReceipt=payout.transaction_id,
            ReceiverPartyPublicName=f"{payout.phone} - JANE WANJIKU",
            TransactionCompletedDateTime=f"{payout.completed_at.astimezone(NAIROBI):%d.%m.%Y %H:%M:%S}",
            B2CUtilityAccountAvailableFunds=float(state.utility_balance),
            B2CWorkingAccountAvailableFunds=700000.00,
            B2CRecipientIsRegisteredCustomer="Y",
            B2CChargesPaidAccountAvailableFunds=-1980.00,
        )
    return result_body(
        payout.code,
        payout.desc,
        payout.originator_id,
        payout.conversation_id,
        payout.transaction_id,
        parameters,
        {"Key": "QueueTimeoutURL", "Value": payout.timeout_url},
    )


def status_parameters(payout: Payout) -> dict[str, Any]:
    when = f"{payout.completed_at.astimezone(NAIROBI):%Y%m%d%H%M%S}"
    return params(
        DebitPartyName="174379 - Callsheet Sandbox",
        CreditPartyName=f"{payout.phone} - JANE WANJIKU",
        **{"Originator Conversation ID": payout.originator_id},
        InitiatedTime=when,
        DebitAccountType="Utility Account",
        DebitPartyCharges="Fee For B2C Payment|KES|22.40" if payout.paid else "",
        TransactionReason=payout.desc,
        ReasonType="Business Payment to Customer via API",
        TransactionStatus="Completed" if payout.paid else "Failed",
        FinalisedTime=when,
        Amount=payout.amount,
        ConversationID=payout.conversation_id,
        ReceiptNo=payout.transaction_id,
    )


def reversal_parameters(reversal: Reversal, phone: str, balance: int) -> dict[str, Any]:
    return params(
        DebitAccountBalance=f"Utility Account|KES|{balance:.2f}|{balance:.2f}|0.00|0.00",
        Amount=reversal.amount,
        TransCompletedTime=f"{reversal.completed_at.astimezone(NAIROBI):%Y%m%d%H%M%S}",
        OriginalTransactionID=reversal.original,
        Charge=0.0,
        CreditPartyPublicName=f"{phone} - JANE WANJIKU",
        DebitPartyPublicName="174379 - Callsheet Sandbox",
    )


def reversal_status(
    state: SandboxState, asked: object, receipt: object
) -> tuple[str, dict[str, Any]] | None:
    """Transaction Status about a reversal (by Daraja's id for its request, or its own
    receipt), or about a paid push by its receipt: "Reversed" once reversed."""
    for reversal in state.reversals.values():
        if (asked and asked == reversal.originator_id) or (
            receipt and receipt == reversal.transaction_id
        ):
            when = f"{reversal.completed_at.astimezone(NAIROBI):%Y%m%d%H%M%S}"
            return reversal.transaction_id, params(
                DebitPartyName="174379 - Callsheet Sandbox",
                CreditPartyName=f"{reversal.phone} - JANE WANJIKU",
                **{"Originator Conversation ID": reversal.originator_id},
                InitiatedTime=when,
                DebitAccountType="Utility Account",
                DebitPartyCharges="",
                TransactionReason="Reversal",
                ReasonType="Reversal",
                TransactionStatus="Completed",
                FinalisedTime=when,
                Amount=reversal.amount,
                ConversationID=reversal.conversation_id,
                ReceiptNo=reversal.transaction_id,
            )
    if not receipt:
        return None
    paid = next((c for c in state.checkouts.values() if c.receipt == receipt), None)
    if paid is None:
        return None
    reversed_ = receipt in state.reversals
    when = f"{state.clock().astimezone(NAIROBI):%Y%m%d%H%M%S}"
    return str(receipt), params(
        DebitPartyName=f"{paid.phone} - JANE WANJIKU",
        CreditPartyName="174379 - Callsheet Sandbox",
        InitiatedTime=when,
        DebitPartyCharges="",
        ReasonType="Pay Utility",
        TransactionStatus="Reversed" if reversed_ else "Completed",
        FinalisedTime=when,
        Amount=paid.amount,
        ReceiptNo=str(receipt),
    )


def balance_string(utility: int) -> str:
    return (
        "Working Account|KES|700000.00|700000.00|0.00|0.00"
        f"&Utility Account|KES|{utility:.2f}|{utility:.2f}|0.00|0.00"
        "&Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00"
    )


async def deliver(
    state: SandboxState, api: str, key: str, url: str, body: dict[str, Any], *, timeout: bool
) -> None:
    """One attempt: Safaricom logs a failed result delivery and drops it."""
    assert state.session is not None
    status: int | None = None
    error: str | None = None
    try:
        async with state.session.post(url, json=body) as response:
            status = response.status
            await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    logger.info("sandbox %s %s %s -> %s", api, "timeout" if timeout else "result", key, status)
    async with state.changed:
        state.results_delivered.append(
            DeliveredResult(api, key, url, body, status, error, timeout, time.monotonic())
        )
        state.changed.notify_all()


async def deliver_later(
    state: SandboxState, api: str, key: str, url: str, body: dict[str, Any], *, times: int = 1
) -> None:
    await asyncio.sleep(state.callback_delay)
    for _ in range(times):
        await deliver(state, api, key, url, body, timeout=False)
