"""Document numbers, gapless within a (series, year): R-2026-000123, INV-2026-000045.

A number is taken in the transaction that writes its document: the counter row is created
or incremented by one upsert, which holds the row's lock until that transaction ends (on
PostgreSQL a second issuer waits; SQLite has one writer). A rollback gives the number back,
so no year ever has a hole, and two instances never share a number.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from models import DocumentSeries, Receipt, ReceiptKind

_NUMBER = re.compile(r"(?P<series>R|INV)-(?P<year>[0-9]{4})-(?P<seq>[0-9]{6,})", re.IGNORECASE)


def format_number(series: DocumentSeries, year: int, seq: int) -> str:
    return f"{series.value}-{year}-{seq:06d}"


def parse_number(text: str) -> tuple[DocumentSeries, int, int] | None:
    """("R", 2026, 123) from "R-2026-000123" (any case); None for anything else."""
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        return None
    return DocumentSeries(match["series"].upper()), int(match["year"]), int(match["seq"])


def company_year(at: datetime, tz: ZoneInfo) -> int:
    """The year a movement belongs to: 2026-12-31 21:30 UTC is 2027 in Nairobi."""
    return at.astimezone(tz).year


async def take_number(conn: BaseDBAsyncClient, series: DocumentSeries, year: int) -> int:
    """The next number of `series` in `year`, locked to the caller's transaction."""
    values = "$1, $2" if conn.capabilities.dialect == "postgres" else "?, ?"
    sql = (
        f"INSERT INTO document_counter (series, year, issued) VALUES ({values}, 1)"
        " ON CONFLICT (series, year) DO UPDATE SET issued = document_counter.issued + 1"
        " RETURNING issued"
    )
    # execute_query would not fetch an INSERT's rows on asyncpg: this one always fetches.
    rows = await conn.execute_query_dict(sql, [series.value, year])
    return int(rows[0]["issued"])


async def issue_receipt(
    conn: BaseDBAsyncClient,
    *,
    kind: ReceiptKind,
    person_id: int | None,
    amount: int,
    at: datetime,
    tz: ZoneInfo,
    payment_id: int | None = None,
    payout_id: int | None = None,
    recorded_payment_id: int | None = None,
    refund_id: int | None = None,
) -> Receipt:
    """The movement's receipt, numbered in `at`'s year; the one it has if it has one already.

    The caller holds the payment's (or payout's) lock, or moved it to COMPLETED / PAID with
    a conditional update, in `conn`'s transaction: two settlers never both get here."""
    links = {
        "payment_id": payment_id,
        "payout_id": payout_id,
        "recorded_payment_id": recorded_payment_id,
        "refund_id": refund_id,
    }
    movement = {name: value for name, value in links.items() if value is not None}
    assert len(movement) == 1, "a receipt records exactly one movement"
    existing = await Receipt.filter(**movement).using_db(conn).first()
    if existing is not None:
        return existing
    year = company_year(at, tz)
    seq = await take_number(conn, DocumentSeries.RECEIPT, year)
    return await Receipt.create(
        number=format_number(DocumentSeries.RECEIPT, year, seq),
        year=year,
        seq=seq,
        kind=kind,
        person_id=person_id,
        amount=amount,
        issued_at=at,
        using_db=conn,
        **movement,
    )
