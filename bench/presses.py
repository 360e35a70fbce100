"""Benchmark 4: 1,000 crew press Confirm on their invitation; update → answerCallbackQuery.

1,000 linked crew and two events are written straight into a fresh database, and everyone
is invited to both events through `AssignmentService.assign` (the `/assign` handler's
service) in a separate process; `callsheet run` starts in a child process and delivers the
2,000 invitations (real messages with real Confirm buttons) to the Telegram stand-in. Then
each crew member presses Confirm through the stand-in's press API, which makes the
callback query update available to the app's long poll at once:

- first event: the presses are paced at `--rate` a second (default 10: 1,000 people
  answering within 100 s of invitations that reach them at 30 a second is already a
  steep peak; `--rate 30`, as fast as the invitations arrive, is the app's saturation);
- second event: all 1,000 presses at once (a stress figure: no crowd taps in the same
  instant).

Timed: from the moment the press made the update available (this process's monotonic
clock) to the moment the stand-in answered the app's `answerCallbackQuery` for it. The
stand-in's rate limits are lifted so that our latency is measured, not Telegram's pacing
(see README: the 1,000 answers to the manager's one chat would take ~17 minutes at 1 a
second). Checked afterwards: every assignment CONFIRMED, one `assignment.confirmed` audit
row each, every invitation edited to "Change my answer", the manager's one live tally per
event showing every confirmation. Run: `python -m bench.presses --db sqlite`.

`--tally`: the manager's side instead, with Telegram's real limits (30/s overall, 1/s and a
burst of 5 per chat): 1,000 Confirm presses spread evenly over `--within` seconds (default
60) on one event. Reported: how many messages reached the manager's chat during the presses
(the live tally is one message, edited), and the time from the last press to the stand-in
answering the edit that shows the final counts (same monotonic clock). Run:
`python -m bench.presses --db sqlite --tally`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench._common import (
    MANAGER_TG,
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
    create_event,
    crew_users,
    invite_elsewhere,
    manager_user,
    open_chats,
    seed_crew,
)
from models import Assignment, AssignmentStatus, AuditLog, OutboxMessage
from sandbox.telegram import SandboxUser, TelegramSandbox

TITLES = ("Paced Festival", "Burst Festival")


def invitation_message(tg: TelegramSandbox, chat_id: int, assignment_id: int) -> int | None:
    """The id of the message in `chat_id` whose Confirm button is for `assignment_id`."""
    wanted = f"asg:yes:{assignment_id}"
    for message in tg.bot_messages(chat_id):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            if any(button.get("callback_data") == wanted for button in row):
                return int(message["message_id"])
    return None


def answered_at(tg: TelegramSandbox, first_request: int) -> dict[str, float]:
    times: dict[str, float] = {}
    for record in tg.requests[first_request:]:
        if record.method.lower() == "answercallbackquery" and record.ok:
            times.setdefault(str(record.params.get("callback_query_id")), record.at)
    return times


async def press_all(
    tg: TelegramSandbox,
    users: list[SandboxUser],
    assignment_ids: list[int],
    rate: float,
) -> tuple[dict[str, float], float]:
    """Each user presses Confirm on their invitation; rate 0: all at once. Returns query
    id → when its update became available, and how long pressing took."""
    targets = []
    for user, assignment_id in zip(users, assignment_ids, strict=True):
        message_id = invitation_message(tg, user.id, assignment_id)
        assert message_id is not None, f"no invitation {assignment_id} in chat {user.id}"
        targets.append((user, message_id, assignment_id))
    pressed: dict[str, float] = {}
    started = time.monotonic()
    for index, (user, message_id, assignment_id) in enumerate(targets):
        if rate > 0:
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
        query_id = await tg.press(user, message_id, f"asg:yes:{assignment_id}")
        pressed[query_id] = time.monotonic()  # the update is in the queue getUpdates reads
    return pressed, time.monotonic() - started


def latency_rows(
    label: str, pressed: dict[str, float], answers: dict[str, float], took: float
) -> list[tuple[str, str]]:
    latencies = [answers[q] - at for q, at in pressed.items() if q in answers]
    return [
        (f"{label}: presses", f"{len(pressed):,} in {took:.1f} s"),
        (f"{label}: answered", f"{len(latencies):,} of {len(pressed):,}"),
        (
            f"{label}: update → answerCallbackQuery p50 / p99 / max",
            f"{ms(percentile(latencies, 50))} / {ms(percentile(latencies, 99))} / "
            f"{ms(max(latencies))}",
        ),
    ]


async def run(db_kind: str, count: int, rate: float, spy: Path | None, burst_too: bool) -> None:
    async with database(db_kind) as (url, pg_version):
        tg = telegram_sandbox(relaxed=True)
        async with tg:
            users = crew_users(tg, count)
            await open_chats(tg, [manager_user(tg), *users])
            async with opened(url):
                manager, crew = await seed_crew(count, emails=False)
                events = [
                    await create_event(manager, days_ahead=7, title=TITLES[0]),
                    await create_event(manager, days_ahead=9, title=TITLES[1]),
                ]
            invited = [(await invite_elsewhere(url, event, manager, crew))[0] for event in events]
            first_request = len(tg.requests)
            app = AppProcess(url, tg, None)
            await app.start()
            recorder: Any = None
            try:
                await tg.wait_for(
                    lambda: (
                        sum(
                            1
                            for r in tg.requests[first_request:]
                            if r.method.lower() == "sendmessage" and r.ok
                        )
                        >= 2 * count
                    ),
                    timeout=300,
                    description="every invitation delivered",
                )
                await asyncio.sleep(1.0)  # the outbox is idle
                if spy is not None:
                    recorder = app.spy(spy)
                cpu = app.cpu_seconds()
                mark = len(tg.requests)
                paced, paced_took = await press_all(tg, users, invited[0], rate)
                await tg.wait_for(
                    lambda: len(answered_at(tg, mark)) >= count, timeout=300, description="paced"
                )
                paced_answers = answered_at(tg, mark)
                burst: dict[str, float] = {}
                burst_took, burst_answers = 0.0, {}
                if burst_too:
                    await asyncio.sleep(2.0)
                    mark = len(tg.requests)
                    burst, burst_took = await press_all(tg, users, invited[1], 0)
                    await tg.wait_for(
                        lambda: len(answered_at(tg, mark)) >= count,
                        timeout=600,
                        description="burst",
                    )
                    burst_answers = answered_at(tg, mark)
                pressed_events = 2 if burst_too else 1

                def tallies() -> Counter[str]:
                    """Per event title, the confirmations its live tally shows now."""
                    shown: Counter[str] = Counter()
                    for m in tg.bot_messages(MANAGER_TG):
                        text = str(m.get("text", ""))
                        for title in TITLES:
                            if text.startswith("Answers · #") and title in text.split("\n")[0]:
                                confirmed = text.split("✅ ", 1)[1].split(" confirmed")[0]
                                shown[title] = max(shown[title], int(confirmed))
                    return shown

                def edited() -> int:
                    return sum(
                        1
                        for user in users
                        for m in tg.bot_messages(user.id)
                        if "asg:change:" in str(m.get("reply_markup"))
                    )

                await tg.wait_for(
                    lambda: (
                        sum(tallies().values()) >= pressed_events * count
                        and edited() >= pressed_events * count
                    ),
                    timeout=600,
                    description="every invitation edit, and the tallies' final counts",
                )
                cpu = app.cpu_seconds() - cpu
                if recorder is not None:
                    recorder.send_signal(2)
                    recorder.wait()
                manager_tallies, invitations_edited = tallies(), edited()
                manager_messages = sum(
                    1
                    for r in tg.requests[first_request:]
                    if r.ok
                    and r.method.lower() == "sendmessage"
                    and str(r.params.get("chat_id")) == str(MANAGER_TG)
                )
            finally:
                await app.stop()
            errors = app.errors_logged()
            answer_texts = Counter(str(a["text"]) for a in tg.callback_answers)
        async with opened(url):
            statuses = Counter(
                (row["event_id"], row["status"])
                for row in await Assignment.all().values("event_id", "status")
            )
            confirmed_rows = Counter(
                row["subject_id"]
                for row in await AuditLog.filter(action="assignment.confirmed").values("subject_id")
            )
            answer_rows = Counter(
                row["status"]
                for row in await OutboxMessage.filter(kind="answers_tally").values("status")
            )
    all_ids = [i for ids in invited[: 2 if burst_too else 1] for i in ids]
    confirmed = sum(
        statuses[(e.id, AssignmentStatus.CONFIRMED)] for e in events[: 2 if burst_too else 1]
    )
    rows = [
        ("crew / invitations (2 events)", f"{count:,} / {sum(len(ids) for ids in invited):,}"),
        *latency_rows(f"paced at {rate:g}/s", paced, paced_answers, paced_took),
        *(latency_rows("all at once", burst, burst_answers, burst_took) if burst_too else []),
        ("app CPU during the presses (and their deliveries)", f"{cpu:.1f} s"),
        ("assignments CONFIRMED", f"{confirmed:,} of {len(all_ids):,}"),
        (
            "confirmed-audit rows: exactly one each / more than one",
            f"{sum(1 for i in all_ids if confirmed_rows[i] == 1):,} / "
            f"{sum(1 for i in all_ids if confirmed_rows[i] > 1)}",
        ),
        ("answers shown to crew", "; ".join(f"{t!r} ×{n}" for t, n in answer_texts.items())),
        ("invitations edited to 'Change my answer'", f"{invitations_edited:,}"),
        (
            "confirmed shown by the manager's tally (paced / burst event)",
            f"{manager_tallies[TITLES[0]]:,} / {manager_tallies[TITLES[1]]:,}",
        ),
        ("new messages in the manager's chat", f"{manager_messages:,}"),
        (
            "tally rows in the outbox",
            ", ".join(f"{s}: {n}" for s, n in answer_rows.items()),
        ),
        ("errors in the app's log", str(len(errors))),
        ("Telegram limits", "lifted in the stand-in (our latency only)"),
        ("target", "p99 < 100 ms"),
    ]
    print_table("Benchmark 4: button presses", environment(db_kind, pg_version), rows)
    for line in errors[:5]:
        print("app error:", line)
    if spy is not None:
        print(f"py-spy recording: {spy} (python -m bench.spy_summary {spy})")


def manager_edits(tg: TelegramSandbox, start: int) -> list[Any]:
    """Bot API calls that wrote into the manager's chat, from request `start` on."""
    return [
        r
        for r in tg.requests[start:]
        if r.method.lower() in ("sendmessage", "editmessagetext")
        and str(r.params.get("chat_id")) == str(MANAGER_TG)
    ]


async def run_tally(db_kind: str, count: int, within: float) -> None:
    """`count` Confirm presses over `within` seconds on one event, Telegram's real limits."""
    final = f"✅ {count} confirmed · ❌ 0 declined · ⏳ 0 waiting"
    async with database(db_kind) as (url, pg_version):
        tg = telegram_sandbox(relaxed=False)
        async with tg:
            users = crew_users(tg, count)
            await open_chats(tg, [manager_user(tg), *users])
            async with opened(url):
                manager, crew = await seed_crew(count, emails=False)
                event = await create_event(manager, days_ahead=7, title=TITLES[0])
            invited, *_ = await invite_elsewhere(url, event, manager, crew)
            first_request = len(tg.requests)
            app = AppProcess(url, tg, None)
            await app.start()
            try:
                await tg.wait_for(
                    lambda: (
                        sum(
                            1
                            for r in tg.requests[first_request:]
                            if r.method.lower() == "sendmessage" and r.ok
                        )
                        >= count
                    ),
                    timeout=300,
                    description="every invitation delivered",
                )
                await asyncio.sleep(2.0)  # the outbox is idle, the chats' buckets full again
                mark = len(tg.requests)
                cpu = app.cpu_seconds()
                pressed, took = await press_all(tg, users, invited, count / within)
                last_press = max(pressed.values())
                cursor = mark
                shown_at: list[float] = []

                def final_shown() -> bool:
                    nonlocal cursor
                    for record in manager_edits(tg, cursor):
                        if record.ok and final in str(record.params.get("text")):
                            shown_at.append(record.at)
                    cursor = len(tg.requests)
                    return bool(shown_at)

                await tg.wait_for(final_shown, timeout=120, description="the final tally")
                await tg.wait_for(
                    lambda: len(answered_at(tg, mark)) >= count, timeout=300, description="answers"
                )
                cpu = app.cpu_seconds() - cpu
            finally:
                await app.stop()
            errors = app.errors_logged()
            answers = answered_at(tg, mark)
            calls = manager_edits(tg, mark)
            throttled = Counter(
                ("manager's chat" if str(r.params.get("chat_id")) == str(MANAGER_TG) else "others")
                + (" (presses)" if index >= mark else " (invitations)")
                for index, r in enumerate(tg.requests)
                if index >= first_request and r.status == 429
            )
        async with opened(url):
            confirmed = await Assignment.filter(status=AssignmentStatus.CONFIRMED).count()
            tally_rows = Counter(
                str(row["status"])
                for row in await OutboxMessage.filter(kind="answers_tally").values("status")
            )
    sends = [r for r in calls if r.ok and r.method.lower() == "sendmessage"]
    edits = [r for r in calls if r.ok and r.method.lower() == "editmessagetext"]
    rows = [
        ("crew / invitations", f"{count:,} / {len(invited):,}"),
        *latency_rows(f"paced over {within:g} s", pressed, answers, took),
        ("app CPU during the presses", f"{cpu:.1f} s"),
        ("assignments CONFIRMED", f"{confirmed:,} of {count:,}"),
        ("new messages in the manager's chat during the presses", f"{len(sends):,}"),
        ("edits of her tally", f"{len(edits):,}"),
        ("tally rows in the outbox", ", ".join(f"{s}: {n:,}" for s, n in tally_rows.items())),
        ("last press → tally shows the final counts", f"{shown_at[0] - last_press:.2f} s"),
        (
            "429s from the stand-in",
            ", ".join(f"{k}: {n}" for k, n in sorted(throttled.items())) or "0",
        ),
        ("errors in the app's log", str(len(errors))),
        ("Telegram limits", "real: 30/s overall, 1/s (burst 5) per chat"),
        ("target", "a handful of messages; final counts within 5 s of the last press"),
    ]
    print_table("Benchmark 4b: the manager's answers tally", environment(db_kind, pg_version), rows)
    for line in errors[:5]:
        print("app error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("-n", "--crew", type=int, default=1000, help="crew (default 1000)")
    parser.add_argument(
        "--rate", type=float, default=10.0, help="paced presses a second (default 10)"
    )
    parser.add_argument(
        "--paced-only",
        action="store_true",
        help="skip the all-at-once presses on the second event (the run takes half as long)",
    )
    parser.add_argument("--py-spy", type=Path, help="record the app with py-spy into FILE")
    parser.add_argument(
        "--tally",
        action="store_true",
        help="the manager's live tally instead, with Telegram's real limits",
    )
    parser.add_argument(
        "--within",
        type=float,
        default=60.0,
        help="--tally: spread the presses over this many seconds (default 60)",
    )
    args = parser.parse_args()
    started = time.monotonic()
    if args.tally:
        asyncio.run(run_tally(args.db, args.crew, args.within))
    else:
        asyncio.run(run(args.db, args.crew, args.rate, args.py_spy, not args.paced_only))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
