"""Benchmark 7: a pay run of 1,000 lines by M-Pesa B2C at DARAJA_B2C_RATE=50.

1,000 linked crew confirmed on one event, its pay sheet built, submitted and approved
through `PayrollService` (untimed), are written into a fresh database; `callsheet run` starts
in a child process against the Telegram stand-in ENFORCING Telegram's limits and the Daraja
stand-in (results posted at once). The manager presses Pay now on the sheet message.
Timed:
- submit: from the press to the last B2C result answered, as a ratio to 1,000 ÷ 50 = 20 s,
  the least the rate allows (the balance check comes first);
- result → payslip: from each B2C result being answered by the app to its payslip reaching
  the crew member's chat, p50 and p99. Payslips share Telegram's 30 a second with the live
  summary edits, so 1,000 of them take at least 33 s: the p99 is bound by that, not by us;
- memory: the app's RSS at the end, and its CPU.
Checked after the run: every line paid once (1,000 payouts accepted by M-Pesa, none
refused as a duplicate), every payslip sent once, and the money audit clean.
Run: `python -m bench.payroll --db sqlite` (or `--db postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench._common import (
    DARAJA_KEY,
    DARAJA_SECRET,
    AppProcess,
    database,
    environment,
    ms,
    opened,
    percentile,
    print_table,
    telegram_sandbox,
)
from bench._crew import (
    bench_services,
    bench_settings,
    create_event,
    crew_users,
    manager_user,
    open_chats,
    seed_crew,
)
from models import Assignment, AssignmentStatus, PayLine, Payout, PayoutStatus, Person
from models.stamps import stamp
from sandbox.daraja import SANDBOX_INITIATOR, SANDBOX_INITIATOR_PASSWORD, DarajaSandbox
from services.clock import SystemClock
from services.ledger import LedgerService

RATE = 50
DAY_RATE = 2_000


async def prepare(url: str, count: int) -> None:
    """The crew, the event (call time passed) and its approved sheet."""
    settings = bench_settings(url)
    async with opened(url):
        manager, crew = await seed_crew(count, emails=False)
        event = await create_event(manager, days_ahead=-1)
        now = SystemClock().now()
        await Assignment.bulk_create(
            [
                Assignment(
                    **stamp(Assignment, now),
                    event=event,
                    person=person,
                    role="rigger",
                    status=AssignmentStatus.CONFIRMED,
                )
                for person in crew
            ],
            batch_size=500,
        )
        payroll = bench_services(settings).payroll
        await payroll.rates.set(manager, None, "rigger", str(DAY_RATE))
        sheet = await payroll.open(manager, event.id)
        await payroll.submit(manager, sheet.id)
        await payroll.approve(manager, sheet.id)


async def run(db_kind: str, count: int, profile: Path | None = None) -> None:
    async with database(db_kind) as (url, pg_version):
        await prepare(url, count)
        tg = telegram_sandbox(relaxed=False)
        async with tg, DarajaSandbox(DARAJA_KEY, DARAJA_SECRET, callback_delay=0) as daraja:
            daraja.utility_balance = DAY_RATE * count * 2
            boss = manager_user(tg)
            users = crew_users(tg, count)
            await open_chats(tg, [boss, *users])
            cert = daraja.certificate.write(Path(tempfile.mkdtemp()) / "sandbox.pem")
            app = AppProcess(
                url,
                tg,
                daraja,
                profile=profile,
                extra_env={
                    "DARAJA_INITIATOR_NAME": SANDBOX_INITIATOR,
                    "DARAJA_INITIATOR_PASSWORD": SANDBOX_INITIATOR_PASSWORD,
                    "DARAJA_CERTIFICATE": str(cert),
                    "DARAJA_B2C_RATE": str(RATE),
                },
            )
            await app.start()
            try:
                sheet = await tg.wait_for_bot_message(boss.id, "Frozen", timeout=60)
                pressed = time.monotonic()
                query = await tg.press(boss, sheet["message_id"], "Pay now")
                await tg.wait_for_callback_answer(query, timeout=30)

                def results() -> list[float]:
                    return [r.at for r in daraja.results_delivered if r.api == "b2c"]

                async with asyncio.timeout(600), daraja.changed:
                    await daraja.changed.wait_for(lambda: len(results()) >= count)
                submit = max(results()) - pressed
                crew_chats = {u.id for u in users}

                def payslips() -> list[tuple[int, float]]:
                    return [
                        (int(r.params["chat_id"]), r.at)
                        for r in tg.requests
                        if r.method.lower() == "sendmessage"
                        and r.ok
                        and int(r.params.get("chat_id", 0) or 0) in crew_chats
                        and "Payslip" in str(r.params.get("text", ""))
                    ]

                await tg.wait_for(
                    lambda: len({c for c, _ in payslips()}) >= count,
                    timeout=600,
                    description=f"{count} payslips",
                )
                await tg.wait_for_bot_message(boss.id, "Paid in full", timeout=120)
                await asyncio.sleep(1.0)  # anything sent twice would show up by now
                rss, cpu = app.rss_mb(), app.cpu_seconds()
            finally:
                await app.stop()
            errors = app.errors_logged()
            async with opened(url):
                problems = await LedgerService(SystemClock()).audit()
                paid = await Payout.filter(status=PayoutStatus.PAID).count()
                line_chat = {
                    line.id: (await Person.get(id=line.person_id)).telegram_id  # type: ignore[attr-defined]
                    for line in await PayLine.all()
                }
                chat_of = {
                    p.originator_conversation_id: line_chat[p.line_id]  # type: ignore[attr-defined]
                    for p in await Payout.all()
                }
            result_at = {
                chat_of[r.key]: r.at
                for r in daraja.results_delivered
                if r.api == "b2c" and r.key in chat_of
            }
            slips = payslips()
            first_slip: dict[int, float] = {}
            for chat, at in slips:
                first_slip.setdefault(chat, at)
            latencies = [first_slip[c] - result_at[c] for c in first_slip if c in result_at]
            per_chat = Counter(chat for chat, _ in slips)
            rows = [
                ("lines paid", f"{paid:,} of {count:,}"),
                ("B2C accepted by M-Pesa", f"{daraja.operator_stats.payouts_accepted:,}"),
                ("refused as duplicates", str(daraja.operator_stats.refused.count("500.002.1001"))),
                ("payslips sent twice", str(sum(n - 1 for n in per_chat.values()))),
                ("money audit", "clean" if not problems else f"{len(problems)} problems"),
                ("press → last result", f"{submit:.1f} s"),
                (
                    f"ratio to {count:,} ÷ {RATE} = {count / RATE:.0f} s",
                    f"{submit / (count / RATE):.2f}",
                ),
                ("result → payslip p50", ms(percentile(latencies, 50))),
                ("result → payslip p99", ms(percentile(latencies, 99))),
                ("last payslip after press", f"{max(first_slip.values()) - pressed:.1f} s"),
                ("app RSS at the end", f"{rss:.0f} MB"),
                ("app CPU", f"{cpu:.1f} s"),
                ("Telegram limits", "enforced: 30/s overall, 1/s per chat"),
            ]
            print_table(
                "Benchmark 7: a pay run of 1,000 lines", environment(db_kind, pg_version), rows
            )
            for line in errors[:5]:
                print("app error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("-n", "--lines", type=int, default=1000, help="crew paid (1000)")
    parser.add_argument("--profile", type=Path, help="write the app's cProfile stats here")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args.db, args.lines, args.profile))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
