"""The managers' board over real HTTP, signed as Telegram signs: the week with its gaps, an
event's page, payments with filters, the charts, and who may see any of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.app import Callsheet
from bot.demo_helpers import stage_plot_pdf
from handlers.web._svg import short_kes
from models import (
    Assignment,
    AssignmentStatus,
    Event,
    EventNeed,
    Payment,
    PaymentStatus,
    Person,
)
from models.stamps import stamp
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import START, Mailbox, People, app_settings, assert_stamped_by
from tests.event_setup import crew_and_event, fast_sandbox, said
from tests.statements import STK, Line, as_csv
from tests.web_helpers import web_client

MANAGER_PAGES = (
    "/app/view/board",
    "/app/view/event/1",
    "/app/view/money",
    "/app/view/payments",
    "/app/view/sheets",
    "/app/view/sheet/1",
    "/app/view/refunds",
    "/app/view/reconciliations",
    "/app/view/charts",
)
MANAGER_ACTIONS = (
    "/app/act/sheet/1/approve",
    "/app/act/refund/1/approve",
    "/app/act/refund/1/reject",
    "/app/act/event/1/backups/off",
)
TUESDAY = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # the week of Sat 5 Dec, 10:00 in Nairobi


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def app(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    tmp_path: Path,
) -> AsyncIterator[Callsheet]:
    """As conftest's, with the copies of attached documents kept in the test's folder (on
    PostgreSQL they would otherwise go to ./files)."""
    settings = app_settings(tg, database_url, smtp_server[1], files_dir=str(tmp_path / "files"))
    running = Callsheet(settings, clock=clock)
    await running.start()
    yield running
    try:
        await assert_stamped_by(clock)
    finally:
        await running.stop()


async def test_crew_and_strangers_see_nothing_of_the_board(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    async with web_client(app, jane.id) as crew:
        for path in MANAGER_PAGES:
            answer = await crew.get(path)
            assert answer.status_code == 403, path
            assert answer.text == "Only managers can see this."
        for path in MANAGER_ACTIONS:
            assert (await crew.post(path)).status_code == 403, path
        assert (await Event.get(id=1)).auto_backups  # the crew's press changed nothing
    async with web_client(app) as nobody:
        for path in (*MANAGER_PAGES, "/app/view/me", "/app/view/home"):
            answer = await nobody.get(path)
            assert answer.status_code == 401, path
            assert "Harusi" not in answer.text
        for path in (*MANAGER_ACTIONS, "/app/act/answer/1/confirm"):
            assert (await nobody.post(path)).status_code == 401, path
    async with web_client(app, boss.id) as client:
        tampered = client.headers["Authorization"].replace("auth_date=", "auth_date=1")
        answer = await client.get("/app/view/board", headers={"Authorization": tampered})
        assert answer.status_code == 401
        assert "Harusi" not in answer.text


async def test_the_week_shows_each_events_answers_and_gaps(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, _, _, event = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    await EventNeed.create(event=event, role="rigger", count=3)
    await EventNeed.create(event=event, role="lights", count=1)
    await Assignment.filter(person__name="Jane Wanjiku").update(status=AssignmentStatus.CONFIRMED)
    clock.set(TUESDAY)
    async with web_client(app, boss.id) as client:
        home = await client.get("/app/view/home")
    assert home.status_code == 200, home.text
    page = home.text
    assert "This week" in page and "Mon 30 Nov – Sun 6 Dec" in page
    assert "#1 Harusi ya Wanjiru" in page and "Sat 5 Dec, 18:00" in page
    assert "call Sat 5 Dec, 15:00" in page
    assert "✅ 1 confirmed" in page and "⏳ 1 invited" in page and "❌ 0 declined" in page
    assert "Needs 2 more rigger" in page and "Needs 1 more lights" in page
    assert "3 crew still needed" in page
    assert 'data-view="/app/view/money"' in page  # the money views are a tap away
    async with web_client(app, boss.id) as client:
        before = await client.get("/app/view/board?week=-1")
        # A week typed oddly is this week, never an error page.
        odd = [await client.get(f"/app/view/board?week={w}") for w in ("--5", "²", "1e3", "")]
    assert "Last week" in before.text and "No events this week." in before.text
    for answer in odd:
        assert answer.status_code == 200 and "Mon 30 Nov – Sun 6 Dec" in answer.text


async def test_an_events_page_shows_roster_answers_reads_documents_and_backups(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.wait_for_callback_answer(await tg.press(jane, invitation["message_id"], "Confirm"))
    other = await tg.wait_for_bot_message(otieno.id, "Invitation")
    await tg.wait_for_callback_answer(await tg.press(otieno, other["message_id"], "Decline"))
    prompt = await tg.wait_for_bot_message(otieno.id, "just type the reason")
    await tg.send_text(otieno, "At a funeral", reply_to=prompt["message_id"])
    await tg.wait_for_bot_message(otieno.id, "Your reason is on its way")
    await said(tg, boss, "/brief 1 | Gate B", "Briefing sent to 1 confirmed crew member.")
    await tg.send_document(
        boss,
        "stage-plot.pdf",
        stage_plot_pdf("Harusi"),
        mime_type="application/pdf",
        caption="/attach 1",
    )
    await tg.wait_for_bot_message(boss.id, "stage-plot.pdf")
    async with web_client(app, boss.id) as client:
        page = (await client.get("/app/view/event/1")).text
        assert "#1 Harusi ya Wanjiru" in page
        assert "Jane Wanjiku" in page and "confirmed Mon 23 Nov, 10:00" in page
        assert "Otieno Kamau" in page and "“At a funeral”" in page
        assert "briefing not read ⏳" in page
        assert "read by 0 of 1" in page
        assert "stage-plot.pdf" in page
        assert "Auto backups: <b>on</b>" in page
        turned = await client.post("/app/act/event/1/backups/off")
        assert turned.status_code == 200
        assert "Auto backups: <b>off</b>" in turned.text
        assert not (await Event.get(id=1)).auto_backups
        missing = await client.get("/app/view/event/99")
        assert missing.status_code == 404
        assert "There is no event #99" in missing.text


async def _payment(person_id: int | None, amount: int, status: PaymentStatus, at: datetime) -> None:
    await Payment.create(
        **stamp(Payment, at),
        person_id=person_id,
        phone="+254712345678",
        amount=amount,
        purpose="Deposit",
        account_reference="Sauti",
        transaction_desc="Deposit",
        status=status,
        receipt="TK4ABC123" if status is PaymentStatus.COMPLETED and amount == 1500 else None,
        requested_by_id=1,
    )


async def test_payments_filter_by_status_month_and_person(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, _, _, _ = await crew_and_event(tg, people)
    await _payment(2, 1500, PaymentStatus.COMPLETED, START)
    await _payment(2, 700, PaymentStatus.FAILED, START)
    await _payment(3, 900, PaymentStatus.COMPLETED, datetime(2026, 10, 20, tzinfo=UTC))
    async with web_client(app, boss.id) as client:
        every = (await client.get("/app/view/payments")).text
        assert "3 payments" in every and "paid KES 2,400" in every
        paid = (await client.get("/app/view/payments?status=completed&month=2026-11")).text
        assert "1 payment in November 2026" in paid and "paid TK4ABC123" in paid
        assert "KES 700" not in paid and "KES 900" not in paid
        janes = (await client.get("/app/view/payments", params={"person": "jane"})).text
        assert "2 payments from Jane Wanjiku" in janes and "KES 900" not in janes
        wrong = await client.get("/app/view/payments?month=Nov")
        assert wrong.status_code == 400
        assert "“Nov” is not a month. Give the year and month, like 2026-11." in wrong.text
        nobody = await client.get("/app/view/payments", params={"person": "Zawadi"})
        assert nobody.status_code == 400 and "Zawadi" in nobody.text
        status = await client.get("/app/view/payments?status=lost")
        assert status.status_code == 400 and "is not a payment status" in status.text


async def test_charts_are_inline_svg_without_inline_style(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.wait_for_callback_answer(await tg.press(jane, invitation["message_id"], "Confirm"))
    await said(tg, boss, "/record Jane | 2500 | cash | CASH-1", "Recorded")
    clock.set(TUESDAY)
    async with web_client(app, boss.id) as client:
        answer = await client.get("/app/view/charts")
    page = answer.text
    assert answer.status_code == 200
    assert page.count('<svg class="chart"') == 3
    assert "<rect" in page and "style=" not in page and "<script" not in page
    assert "Nov: 2.5k" in page  # the month's money in, on its bar
    assert "Dec: 100%" in page  # Jane said yes to December's event
    assert "Jane Wanjiku: 1 of 1 confirmed" in page


async def test_kept_reconciliations_are_listed_with_their_counts(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, _, _, _ = await crew_and_event(tg, people)
    statement = as_csv(
        datetime(2026, 11, 1),
        datetime(2026, 11, 30, 23, 59),
        [Line("TKA1111111", datetime(2026, 11, 3, 9, 15), STK, paid_in=Decimal(1500))],
        Decimal(10_000),
    )
    assert app.services is not None
    manager = await Person.get(name="Achieng Otieno")
    await app.services.reconciler.reconcile("november.csv", statement, manager)
    async with web_client(app, boss.id) as client:
        page = (await client.get("/app/view/reconciliations")).text
    assert "november.csv" in page
    assert "0 matched" in page and "1 not in our books" in page
    assert "In KES 1,500 · out KES 0 · fees KES 0" in page


def test_chart_labels_stay_a_few_characters_at_every_size() -> None:
    amounts = (0, 999, 1_000, 12_400, 999_499, 999_800, 1_250_000, 999_999_999)
    labels = ["0", "999", "1k", "12.4k", "999k", "1M", "1.25M", "1B"]
    assert [short_kes(amount) for amount in amounts] == labels
