"""Benchmark 8: reconciling a 100,000-row M-Pesa statement against 100,000 payments.

A fresh database gets 100,000 completed payments in November (untimed); the statement (an
XLSX in the org-portal layout: 6 metadata rows, headers on row 7) lists 100,000 rows: most
match, 500 have another amount, 500 are not in our books, and 1,000 of our payments are
missing from it. Each measurement runs in its own child process, so its time and peak RSS
are its own:
- reference: reading the file with openpyxl read-only, every row's values, nothing else;
- reconcile: `callsheet reconcile FILE` (the operator's command: reading, matching against
  the database, storing the 2,000 exceptions and the alert).
Both run `--runs` times, alternately; the table gives medians and reconcile ÷ reference.
Checked after each reconcile: the counts are what was seeded.
Run: `python -m bench.reconcile --db sqlite` (or `--db postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bench._common import ROOT, database, environment, opened, print_table
from models import Access, Payment, PaymentStatus, Person, Reconciliation, ReconciliationRow
from tests.statements import STK, Line, as_xlsx

NAIROBI = ZoneInfo("Africa/Nairobi")
START = datetime(2026, 11, 1)
END = datetime(2026, 11, 30, 23, 59, 59)
DIFFER = MISSING = EXTRA = 500

# Each child prints {"seconds": …, "peak_mb": …} as its last line. Peak memory is VmHWM
# (ru_maxrss would carry over the parent's high-water mark across fork and exec).
PEAK = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
READ_ONLY = """
import json, sys, time
from openpyxl import load_workbook
began = time.perf_counter()
book = load_workbook(sys.argv[1], read_only=True, data_only=True)
rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
book.close()
print(json.dumps({"seconds": time.perf_counter() - began, "rows": rows,
                  "peak_mb": PEAK / 1024}))
"""
RECONCILE = """
import json, sys, time
from bot.cli import main
began = time.perf_counter()
code = main(["reconcile", sys.argv[1]])
print(json.dumps({"seconds": time.perf_counter() - began, "code": code,
                  "peak_mb": PEAK / 1024}))
"""


def receipt(n: int) -> str:
    return f"TK{n:08d}"


def when(n: int, count: int) -> datetime:
    return START + timedelta(seconds=int((END - START).total_seconds() * n / count))


async def seed(count: int) -> None:
    payer = await Person.create(
        name="Bench Payer",
        phone="+254712000000",
        access=Access.CREW,
        created_at=datetime.now(NAIROBI),
        updated_at=datetime.now(NAIROBI),
    )
    batch: list[Payment] = []
    for n in range(count):
        at = when(n, count).replace(tzinfo=NAIROBI)
        batch.append(
            Payment(
                person=payer,
                phone=payer.phone,
                amount=1_000 + n % 500,
                purpose="Deposit",
                account_reference="Bench",
                transaction_desc="Deposit",
                status=PaymentStatus.COMPLETED,
                requested_by=payer,
                receipt=receipt(n),
                paid_amount=1_000 + n % 500,
                paid_phone=payer.phone,
                created_at=at,
                updated_at=at,
            )
        )
        if len(batch) == 5_000:
            await Payment.bulk_create(batch)
            batch = []
    if batch:
        await Payment.bulk_create(batch)


def statement(count: int) -> bytes:
    """`count` rows: our payments but the last MISSING, DIFFER of them with 1 shilling more,
    and EXTRA receipts we never booked."""
    lines: list[Line] = []
    kept = count - MISSING
    for n in range(kept - EXTRA):
        amount = 1_000 + n % 500 + (1 if n < DIFFER else 0)
        lines.append(
            Line(
                receipt(n), when(n, count), STK, paid_in=Decimal(amount), other_party="25471****000"
            )
        )
    for n in range(EXTRA):
        lines.append(
            Line(
                f"TX{n:08d}", when(n, count), STK, paid_in=Decimal(750), other_party="25479****111"
            )
        )
    return as_xlsx(START, END, lines, Decimal(0))


def child(script: str, path: Path, url: str) -> dict[str, float]:
    script = script.replace("PEAK", PEAK)
    env = {**os.environ, "DATABASE_URL": url, "TIMEZONE": "Africa/Nairobi"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if not done.stdout.strip():
        raise SystemExit(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def forget(url: str) -> None:
    """Drop the stored reconciliation, so the next run reconciles afresh."""
    async with opened(url):
        await ReconciliationRow.all().delete()
        await Reconciliation.all().delete()


async def checked(url: str, count: int) -> None:
    async with opened(url):
        recon = await Reconciliation.get()
        seen = (recon.matched, recon.amount_differs, recon.not_in_books, recon.not_in_statement)
        wanted = (count - MISSING - EXTRA - DIFFER, DIFFER, EXTRA, MISSING + EXTRA)
        if seen != wanted:
            raise SystemExit(f"counts {seen}, expected {wanted}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    async with database(args.db) as (url, version):
        async with opened(url):
            await seed(args.rows)
        with tempfile.TemporaryDirectory(prefix="callsheet-bench-") as folder:
            path = Path(folder) / "ORG_600123_Utility Account_Completed_20261201.xlsx"
            path.write_bytes(statement(args.rows))
            size_mb = path.stat().st_size / 1e6
            reads: list[dict[str, float]] = []
            runs: list[dict[str, float]] = []
            for _ in range(args.runs):
                reads.append(child(READ_ONLY, path, url))
                await forget(url)
                runs.append(child(RECONCILE, path, url))
                await checked(url, args.rows)
    read_s = statistics.median(r["seconds"] for r in reads)
    run_s = statistics.median(r["seconds"] for r in runs)
    read_mb = statistics.median(r["peak_mb"] for r in reads)
    run_mb = statistics.median(r["peak_mb"] for r in runs)
    print_table(
        f"Reconciling {args.rows:,} statement rows against {args.rows:,} payments "
        f"({size_mb:.1f} MB XLSX, median of {args.runs})",
        environment(args.db, version),
        [
            ("reference: openpyxl read-only, every row", f"{read_s:.2f} s · peak {read_mb:.0f} MB"),
            ("callsheet reconcile", f"{run_s:.2f} s · peak {run_mb:.0f} MB"),
            ("time, reconcile ÷ reference", f"{run_s / read_s:.2f}"),
            ("peak memory, reconcile ÷ reference", f"{run_mb / read_mb:.2f}"),
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
