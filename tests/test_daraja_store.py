"""The database-backed Daraja token store and audit sink, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from models import DarajaExchange as ExchangeRow
from models import Payment, Person, ServiceToken
from models.stamps import stamp
from services.daraja import DarajaExchange, DbAuditSink, DbTokenStore, exchanges_for
from tests.conftest import START

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


async def test_instances_share_one_token_and_never_fetch_two_at_once(database: str) -> None:
    fetched: list[str] = []

    async def fetch() -> tuple[str, datetime]:
        await asyncio.sleep(0.05)  # a slow Daraja: the others must wait, not fetch too
        fetched.append(f"token-{len(fetched) + 1}")
        return fetched[-1], NOW + timedelta(minutes=59)

    # Separate stores stand for separate instances: only the database is shared.
    stores = [DbTokenStore() for _ in range(5)]
    tokens = await asyncio.gather(*(s.refresh(fetch, None, NOW) for s in stores))
    assert fetched == ["token-1"] and set(tokens) == {"token-1"}
    assert await stores[3].get_valid(NOW) == "token-1"
    assert await stores[3].get_valid(NOW + timedelta(hours=1)) is None

    # Daraja refused token-1: one refresh replaces it; a second caller holding the same
    # stale token gets the replacement instead of fetching again.
    again = await asyncio.gather(*(s.refresh(fetch, "token-1", NOW) for s in stores[:2]))
    assert fetched == ["token-1", "token-2"] and set(again) == {"token-2"}
    assert (await ServiceToken.get(name="daraja")).token == "token-2"


async def test_audit_rows_point_at_their_payment(database: str) -> None:
    sink = DbAuditSink()
    exchange = DarajaExchange(
        operation="stk_query",
        method="POST",
        url="https://sandbox.safaricom.co.ke/mpesa/stkpushquery/v1/query",
        request_headers={"Authorization": "[redacted]"},
        request_body={"Password": "[redacted]", "CheckoutRequestID": "ws_CO_1"},
        status=500,
        response_body={"errorCode": "500.001.1001", "errorMessage": "being processed"},
        error=None,
        started_at=NOW,
        duration_ms=12,
    )
    await sink.record(exchange)
    boss = await Person.create(**stamp(Person, START), name="Achieng Otieno", phone="+254700000001")
    payment = await Payment.create(
        **stamp(Payment, START),
        phone="+254712345678",
        amount=1500,
        purpose="Deposit",
        account_reference="Deposit",
        transaction_desc="Deposit",
        requested_by=boss,
    )
    with exchanges_for(payment.id):
        await sink.record(exchange)
    rows = await ExchangeRow.all().order_by("id").values("payment_id", "operation", "status_code")
    assert rows == [
        {"payment_id": None, "operation": "stk_query", "status_code": 500},
        {"payment_id": payment.id, "operation": "stk_query", "status_code": 500},
    ]
