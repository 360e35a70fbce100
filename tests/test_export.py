# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""The month's ledger for the accountant: /export as two documents read back from the
Telegram stand-in, and `callsheet export --month` writing the same files. The month is the
company's (Nairobi, UTC+3), whatever the date the suite runs on."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from bot.app import Callsheet
from models import LedgerEntry, LedgerKind, Person
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import START
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    crew,
    daraja,
    tg,
)

Crew = tuple[Person, SandboxUser, Person, SandboxUser]
HEADER = ["date", "person", "kind", "method", "amount", "receipt", "reference"]
# 23:59 on 30 November in Nairobi, and 01:30 on 1 December there (22:30 UTC on the 30th).
LAST_MINUTE = datetime(2026, 11, 30, 20, 59, tzinfo=UTC)
NEXT_MONTH = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 with a BOM
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


async def _export(tg: TelegramSandbox, user: SandboxUser, month: str, expect: str) -> Any:
    """Send /export; the two documents sent before the summary, read back as rows."""
    summary = await ask(tg, user, f"/export {month}", expect)
    documents = [
        m
        for m in tg.bot_messages(user.id)
        if "document" in m and m["message_id"] < summary["message_id"]
    ][-2:]
    names = [d["document"]["file_name"] for d in documents]
    assert names == [f"ledger-{month}.csv", f"ledger-{month}.xlsx"]
    csv_file, xlsx_file = (tg.files[d["document"]["file_id"]].content for d in documents)
    assert csv_file is not None and xlsx_file is not None
    return summary, _csv_rows(csv_file), _xlsx_rows(xlsx_file)


async def test_export_takes_the_month_in_nairobi_time(
    app: Callsheet, tg: TelegramSandbox, clock: ManualClock, crew: Crew
) -> None:
    _, boss, _, jane = crew
    await ask(tg, boss, "/charge Jane | 8000 | PA hire", "They now owe KES 8,000")
    started = await ask(tg, boss, "/request Jane | 1500 | PA hire", "Jane Wanjiku")
    paid = await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    receipt = paid["text"].split("receipt ")[1].split()[0]
    clock.set(LAST_MINUTE)
    await ask(
        tg,
        boss,
        "/record Jane | 2000 | bank | FT-771",
        "Recorded KES 2,000 received by bank transfer",
    )
    clock.set(NEXT_MONTH)
    await ask(
        tg, boss, "/record Jane | 2 | cash | =HYPERLINK(1)", "Recorded KES 2 received in cash"
    )
    await ask(tg, boss, "/unrecord 2 | Wrong amount", "undone")

    summary, rows, sheet = await _export(tg, boss, "2026-11", "Ledger for November 2026")
    assert "3 entries, net +KES 4,500" in summary["text"]
    assert rows == [
        HEADER,
        ["2026-11-23 10:00", "Jane Wanjiku", "charge", "", "8000", "", "PA hire"],
        ["2026-11-23 10:00", "Jane Wanjiku", "payment", "mpesa", "-1500", receipt, "payment #1"],
        ["2026-11-30 23:59", "Jane Wanjiku", "recorded", "bank", "-2000", "", "FT-771"],
    ]
    assert sheet == [
        HEADER,
        [datetime(2026, 11, 23, 10), "Jane Wanjiku", "charge", None, 8000, None, "PA hire"],
        [datetime(2026, 11, 23, 10), "Jane Wanjiku", "payment", "mpesa", -1500, receipt, "payment #1"],
        [datetime(2026, 11, 30, 23, 59), "Jane Wanjiku", "recorded", "bank", -2000, None, "FT-771"],
    ]  # fmt: skip

    # 22:30 UTC on the 30th is December in Nairobi; a formula typed as a reference stays text.
    _, rows, sheet = await _export(tg, boss, "2026-12", "Ledger for December 2026")
    assert rows[1:] == [
        ["2026-12-01 01:30", "Jane Wanjiku", "recorded", "cash", "-2", "", "'=HYPERLINK(1)"],
        ["2026-12-01 01:30", "Jane Wanjiku", "adjustment", "cash", "2", "", "'=HYPERLINK(1)"],
    ]
    assert [r[4] for r in sheet[1:]] == [-2, 2] and sheet[1][6] == "'=HYPERLINK(1)"

    summary, rows, sheet = await _export(tg, boss, "2027-01", "No ledger entries in January 2027")
    assert "the files hold only the header row" in summary["text"]
    assert rows == [HEADER] and sheet == [HEADER]

    for typed in ("nov", "2026-13", "11-2026", ""):
        await ask(tg, boss, f"/export {typed}".strip(), "Give the year and month, like 2026-11.")
    await ask(tg, jane, "/export 2026-11", "Only managers can export the books")


async def test_callsheet_export_writes_the_two_files(database: str, tmp_path: Path) -> None:
    jane = await Person.create(**stamp(Person, START), name="Jane Wanjiku", phone="+254712345678")
    for when, amount in ((LAST_MINUTE, 700), (NEXT_MONTH, 900)):
        await LedgerEntry.create(
            **stamp(LedgerEntry, when),
            person=jane,
            kind=LedgerKind.CHARGE,
            amount=amount,
            description="Lost clamp",
        )
    await Person.filter(id=jane.id).update(balance=1600)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": database, "TIMEZONE": "Africa/Nairobi"}
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "export", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )

    done = await asyncio.to_thread(cli, "--month", "2026-11", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "November 2026 (Africa/Nairobi): 1 ledger entries, net +700 KES" in done.stdout
    rows = _csv_rows((tmp_path / "ledger-2026-11.csv").read_bytes())
    assert rows == [
        HEADER,
        ["2026-11-30 23:59", "Jane Wanjiku", "charge", "", "700", "", "Lost clamp"],
    ]
    sheet = _xlsx_rows((tmp_path / "ledger-2026-11.xlsx").read_bytes())
    assert sheet[1][:5] == [datetime(2026, 11, 30, 23, 59), "Jane Wanjiku", "charge", None, 700]

    empty = await asyncio.to_thread(cli, "--month", "2025-02", "--out", str(tmp_path))
    assert empty.returncode == 0 and "no ledger entries" in empty.stdout
    assert _csv_rows((tmp_path / "ledger-2025-02.csv").read_bytes()) == [HEADER]

    bad = await asyncio.to_thread(cli, "--month", "November", "--out", str(tmp_path))
    assert bad.returncode == 2
    assert "“November” is not a month. Give the year and month, like 2026-11." in bad.stderr
    missing = await asyncio.to_thread(cli, "--month", "2026-11", "--out", str(tmp_path / "no"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
