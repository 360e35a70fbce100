"""Ask the shortcode's balances (POST /mpesa/accountbalance/v1/query); answered at ResultURL."""

from __future__ import annotations

from services.daraja._initiated import RequestAccepted, check_urls, fit_remarks, send
from services.daraja._session import Session
from services.daraja.security import Initiator


async def account_balance(
    session: Session,
    initiator: Initiator,
    *,
    result_url: str,
    timeout_url: str,
    remarks: str = "Balance check",
) -> RequestAccepted:
    check_urls(result_url, timeout_url)
    body: dict[str, object] = {
        "Initiator": initiator.name,
        "SecurityCredential": initiator.credential(),
        "CommandID": "AccountBalance",
        "PartyA": initiator.shortcode,
        "IdentifierType": "4",
        "Remarks": fit_remarks(remarks),
        "QueueTimeOutURL": timeout_url,
        "ResultURL": result_url,
    }
    return await send(
        session, "account_balance", "/mpesa/accountbalance/v1/query", body, moves_money=False
    )
