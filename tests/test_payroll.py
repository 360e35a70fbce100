# ruff: noqa: F811  (the sandbox fixture is imported from payroll_helpers, then used)
"""Rates, the pay sheet and its approval, end to end through the Telegram sandbox."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Callsheet
from models import (
    AuditAction,
    AuditLog,
    LedgerEntry,
    LedgerKind,
    PayLine,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
    Person,
)
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.payroll import claim_payout
from tests.conftest import People
from tests.event_setup import said
from tests.payroll_helpers import gig, press_and_answer, sheet_message, tg  # noqa: F401


async def audit_clean(app: Callsheet) -> None:
    assert app.services is not None
    assert await app.services.ledger.audit() == []


async def test_rates_are_set_listed_and_refused_clearly(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712 345 678")
    await said(tg, jane, "/rates rigger | 4000", "Only managers can see and set day rates.")
    await said(tg, boss, "/rates", "No role has a day rate yet.")
    await said(
        tg, boss, "/rates Sound  Engineer | 3,500", "✅ Day rate for sound engineer: KES 3,500."
    )
    await said(tg, boss, "/rates sound engineer | 3800", "KES 3,800 (was KES 3,500)")
    await said(
        tg, boss, "/rates Jane | rigger | 4000", "✅ Jane Wanjiku's own rate for rigger: KES 4,000."
    )
    await said(tg, boss, "/rates rigger | lots", "“lots” is not an amount")
    await said(tg, boss, "/rates rigger | 0", "is not a positive amount")
    await said(tg, boss, "/rates 1234 | 500", "“1234” is not a role")
    await said(tg, boss, "/rates rigger | 1500.50", "has cents")
    await said(tg, boss, "/rates a | b | c | d", "Send /rates sound engineer | 3500")
    await said(tg, boss, "/rates Nobody Here | rigger | 100", "Nobody on the crew list")
    await said(tg, boss, "/rates lights | clear", "There is no day rate for lights to clear.")
    listing = await said(tg, boss, "/rates", "Day rates")
    assert "sound engineer · KES 3,800" in listing["text"]
    assert "Jane Wanjiku (#2) · rigger · KES 4,000" in listing["text"]
    await said(tg, boss, "/rates Jane | rigger | clear", "removed (was KES 4,000)")
    actions = await AuditLog.filter(action__in=[AuditAction.RATE_SET, AuditAction.RATE_CLEARED])
    assert len(actions) == 4  # two sets, a change, a removal; the refusals saved nothing


async def test_sheet_built_edited_in_place_submitted_and_approved(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, crew, _ = await gig(app, tg, people, clock)
    await said(tg, boss, "/rates sound engineer | 3500", "KES 3,500")
    await tg.send_text(boss, "/payroll 1")
    sheet = await sheet_message(tg, boss, "Pay sheet · #1 Harusi ya Wanjiru")
    text = sheet["text"]
    assert "version 1 · draft" in text and "2 crew · 1 to pay · ❌ 1 to fix" in text
    # The missing rate comes first, with the command that fixes it; the invited one is absent.
    assert text.index("Otieno Kamau") < text.index("Jane Wanjiku")
    assert "❌ Otieno Kamau · lights · no rate: set one with /rates lights | 3500" in text
    assert "Jane Wanjiku · sound engineer · 3,500 · owes 800, not deducted · net 3,500" in text
    assert "Ivy" not in text
    answer = await press_and_answer(tg, boss, sheet["message_id"], "Submit for approval")
    assert "Fix these first: Otieno Kamau (no rate)" in answer
    assert (await PaySheet.get(id=1)).status == PaySheetStatus.DRAFT

    await said(tg, boss, "/rates lights | 3000", "KES 3,000")
    done = await said(tg, boss, "/payroll 1 | Jane | +1000 overtime", "✅ Jane Wanjiku")
    assert "+KES 1,000 overtime. Net KES 4,500." in done["text"]
    # The same message, edited in place, now with today's rate for Otieno.
    edited = await sheet_message(tg, boss, "+1,000 overtime", message_id=sheet["message_id"])
    assert "Otieno Kamau · lights · 3,000 · net 3,000" in edited["text"]
    await said(
        tg,
        boss,
        "/payroll 1 | Jane | deduct 900",
        "Jane Wanjiku owes KES 800; deduct at most that.",
    )
    await said(tg, boss, "/payroll 1 | Jane | deduct 800", "Net KES 3,700")
    await said(tg, boss, "/payroll 1 | Otieno | -5000 advance", "pay is never negative")
    await said(tg, boss, "/payroll 1 | Otieno | deduct 100", "Otieno Kamau owes nothing")
    await said(tg, boss, "/payroll 1 | Otieno | sing a song", "is not a change I know")
    await said(tg, boss, "/payroll 1 | Otieno | +200", "Say what the +200 is for")
    await said(tg, boss, "/payroll 1 | Ivy | +200 tips", "Ivy Invited is not on #1's pay sheet")
    await said(tg, boss, "/payroll 1 | Otieno", "A change has three parts")
    await said(tg, boss, "/payroll 99", "There is no event #99")
    await said(tg, boss, "/payroll soon", "“soon” is not an event number")
    await said(tg, boss, "/payroll 1 | Otieno | -500 advance", "Net KES 2,500")
    sheet = await sheet_message(tg, boss, "net 2,500", message_id=sheet["message_id"])
    assert "Net to pay: KES 6,200 · deducted KES 800" in sheet["text"]
    assert (
        "Jane Wanjiku · sound engineer · 3,500 +1,000 overtime · owes 800, deduct 800"
        in sheet["text"]
    )

    assert (
        await press_and_answer(tg, boss, sheet["message_id"], "Submit") == "Submitted for approval"
    )
    sheet = await sheet_message(
        tg, boss, "⏳ Submitted by Achieng Otieno", message_id=sheet["message_id"]
    )
    assert "Waiting for approval." in sheet["text"]
    assert "✅ Approved" in await press_and_answer(tg, boss, sheet["message_id"], "Approve")
    sheet = await sheet_message(
        tg, boss, "✅ Approved by Achieng Otieno", message_id=sheet["message_id"]
    )
    assert "Frozen: a change makes version 2." in sheet["text"]
    assert "Approve" not in str(sheet.get("reply_markup"))

    approved = await PaySheet.get(id=1)
    boss_id = (await Person.get(name="Achieng Otieno")).id
    assert approved.status is PaySheetStatus.APPROVED
    assert approved.prepared_by_id == approved.submitted_by_id == approved.approved_by_id == boss_id  # type: ignore[attr-defined]
    payouts = await Payout.all().order_by("id").prefetch_related("line")
    assert [(p.amount, p.phone, p.status) for p in payouts] == [
        (3_700, "+254712345678", PayoutStatus.QUEUED),
        (2_500, "+254722111222", PayoutStatus.QUEUED),
    ] or [(p.amount, p.phone, p.status) for p in payouts] == [
        (2_500, "+254722111222", PayoutStatus.QUEUED),
        (3_700, "+254712345678", PayoutStatus.QUEUED),
    ]
    assert {p.originator_conversation_id for p in payouts} == {
        f"cs-pay-{p.line.id}-1" for p in payouts
    }
    # Wages lower the balance; the deduction settles what Jane owed.
    jane = await Person.get(id=crew["jane"][0].id)
    otieno = await Person.get(id=crew["otieno"][0].id)
    assert (jane.balance, otieno.balance) == (-3_700, -2_500)
    kinds = await LedgerEntry.filter(person=jane).order_by("id").values_list("kind", "amount")
    assert kinds == [
        (LedgerKind.CHARGE, 800),
        (LedgerKind.WAGE, -3_700),
        (LedgerKind.DEDUCTION, -800),
    ]
    await audit_clean(app)
    logged = set(await AuditLog.filter(subject_type="pay_sheet").values_list("action", flat=True))
    assert {
        AuditAction.PAYROLL_BUILT,
        AuditAction.PAYROLL_LINE_CHANGED,
        AuditAction.PAYROLL_SUBMITTED,
        AuditAction.PAYROLL_APPROVED,
    } <= logged

    # Crew see their approved pay; managers see the run.
    pay = await said(tg, crew["jane"][1], "/pay", "My pay")
    assert "2026: earned KES 3,700, paid KES 0 by M-Pesa." in pay["text"]
    assert "sound engineer · rate KES 3,500 · +KES 1,000 overtime · deducted KES 800" in pay["text"]
    assert "Net KES 3,700 · ⏳ approved, not paid yet" in pay["text"]
    await said(tg, crew["ivy"][1], "/pay", "No pay yet")
    runs = await said(tg, boss, "/payruns", "Pay sheets")
    assert (
        "#1 Harusi ya Wanjiru · v1 approved · 2 to pay · KES 6,200 · by Achieng Otieno, "
        "approved by Achieng Otieno" in runs["text"]
    )
    await said(tg, boss, "/payruns draft", "No pay sheets yet")
    await said(tg, boss, "/payruns whenever", "is not an event number or a status")
    await said(tg, crew["jane"][1], "/payruns", "Only managers can see pay runs.")
    await said(tg, crew["jane"][1], "/payroll 1", "Only managers can prepare pay sheets.")


async def test_an_approved_sheet_is_frozen_and_a_new_version_does_not_double_wages(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, crew, _ = await gig(app, tg, people, clock)
    await said(tg, boss, "/rates sound engineer | 3500", "KES 3,500")
    await said(tg, boss, "/rates Otieno Kamau | lights | 3000", "own rate")
    await tg.send_text(boss, "/payroll 1")
    sheet = await sheet_message(tg, boss, "version 1 · draft")
    assert "Otieno Kamau · lights · 3,000 own rate · net 3,000" in sheet["text"]
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    await sheet_message(tg, boss, "Submitted", message_id=sheet["message_id"])
    # A change to a submitted sheet sends it back to draft.
    done = await said(tg, boss, "/payroll 1 | Jane | leave out", "Left out of this sheet")
    assert "it is a draft again" in done["text"]
    sheet = await sheet_message(tg, boss, "version 1 · draft", message_id=sheet["message_id"])
    assert "Jane Wanjiku · sound engineer · left out" in sheet["text"]
    await said(tg, boss, "/payroll 1 | Jane | put back", "Net KES 3,500")
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    await sheet_message(tg, boss, "Submitted", message_id=sheet["message_id"])
    await press_and_answer(tg, boss, sheet["message_id"], "Approve")
    await sheet_message(tg, boss, "✅ Approved", message_id=sheet["message_id"])
    jane, otieno = crew["jane"][0].id, crew["otieno"][0].id
    assert (await Person.get(id=jane)).balance == 800 - 3_500
    assert (await Person.get(id=otieno)).balance == -3_000

    done = await said(tg, boss, "/payroll 1 | Otieno | +500 transport", "✅ Otieno Kamau")
    assert "Version 1 was approved, so this is version 2, a draft" in done["text"]
    v1, v2 = await PaySheet.all().order_by("version")
    assert (v1.status, v2.status) == (PaySheetStatus.SUPERSEDED, PaySheetStatus.DRAFT)
    assert v2.supersedes_id == v1.id  # type: ignore[attr-defined]
    assert {p.status for p in await Payout.filter(sheet=v1)} == {PayoutStatus.CANCELLED}
    # v1's wages stand until v2 is approved; Jane still owes 800 on v2's line (not -2,700).
    assert (await Person.get(id=otieno)).balance == -3_000
    line = await PayLine.get(sheet=v2, person_id=jane)
    assert (line.owed, line.net) == (800, 3_500)
    await said(tg, boss, "/payroll 1 | Jane | deduct all", "Net KES 2,700")
    await tg.send_text(boss, "/payroll 1")
    sheet = await sheet_message(tg, boss, "version 2 · draft", after=sheet["message_id"])
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    await sheet_message(tg, boss, "Submitted", message_id=sheet["message_id"])
    await press_and_answer(tg, boss, sheet["message_id"], "Approve")
    await sheet_message(tg, boss, "✅ Approved", message_id=sheet["message_id"])

    # The rule: v1's entries are reversed and v2's posted, so a balance moves by the
    # difference: Otieno earned 3,500 in all, not 6,500; Jane 3,500 with 800 deducted.
    assert (await Person.get(id=otieno)).balance == -3_500
    assert (await Person.get(id=jane)).balance == -2_700
    reversed_ = await LedgerEntry.filter(kind=LedgerKind.ADJUSTMENT, reverses_id__isnull=False)
    assert len(reversed_) == 2  # Jane's and Otieno's v1 wages
    await audit_clean(app)
    queued = await Payout.filter(sheet=v2).order_by("id").values_list("amount", "status")
    assert sorted(queued) == [(2_700, PayoutStatus.QUEUED), (3_500, PayoutStatus.QUEUED)]

    # Once Pay was pressed and the balance cleared it, the sender claims its payouts, and
    # the version can no longer change (test_payday goes through Pay itself).
    assert app.services is not None
    assert await claim_payout(app.services.clock) is None  # nobody pressed Pay
    await PaySheet.filter(id=v2.id).update(status=PaySheetStatus.PAYING)
    claimed = await claim_payout(app.services.clock)

    assert claimed is not None and claimed.status is PayoutStatus.SENT
    assert (await PaySheet.get(id=v2.id)).status == PaySheetStatus.PAYING
    await said(tg, boss, "/payroll 1 | Otieno | +100 tea", "it can no longer change")
    assert await PaySheet.all().count() == 2
    await audit_clean(app)


async def test_pay_crew_on_the_card_once_call_time_has_passed(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(
        tg, boss, "/newevent Harusi | 2026-12-05 18:00 | 23:00 | KICC | call 15:00", "created"
    )
    card = await said(tg, boss, "/event 1", "Harusi")
    assert "Pay crew" not in str(card.get("reply_markup"))
    clock.advance(timedelta(days=12, hours=6))
    card = await said(tg, boss, "/event 1", "Harusi")
    assert "Pay crew" in str(card.get("reply_markup"))
    await press_and_answer(tg, boss, card["message_id"], "Pay crew")
    sheet = await sheet_message(tg, boss, "Pay sheet · #1 Harusi", after=card["message_id"])
    assert "Nobody is confirmed on this event yet." in sheet["text"]
    answer = await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    assert "There is nobody to pay on this sheet" in answer
    # /payroll alone offers the latest events to pick from.
    pick = await said(tg, boss, "/payroll", "Which event's crew do you want to pay?")
    await press_and_answer(tg, boss, pick["message_id"], "#1 Harusi · Sat 5 Dec, 18:00")
    await sheet_message(tg, boss, "Pay sheet · #1 Harusi", after=pick["message_id"])
