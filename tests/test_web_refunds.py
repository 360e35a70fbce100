# ruff: noqa: F811  (fixtures are imported from the helpers, then used)
"""Refunds in the board: approved or rejected through services/refunds by the chat's rules,
and the refund's card in the chat follows; the money page lists balances and what waits."""

from __future__ import annotations

import pytest

from bot.app import Callsheet
from models import Refund, RefundStatus
from sandbox.daraja import DarajaSandbox
from sandbox.telegram import TelegramSandbox
from tests.conftest import People
from tests.payments_helpers import daraja, tg  # noqa: F401
from tests.test_payday import app  # noqa: F401  (payments and payouts on)
from tests.test_refunds import card, paid
from tests.web_helpers import web_client


@pytest.mark.app_settings(payroll_approvals=2)
async def test_another_manager_approves_or_rejects_a_refund_in_the_board(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    boss, _, _ = await paid(app, tg, people)
    _, other = await people.add("Baraka Mwangi", "0700 000 002", manager=True)
    await tg.send_text(boss, "/refund 1 | 300 | damaged cable returned")
    await card(tg, boss, "Waiting for another manager to approve it.")
    async with web_client(app, boss.id) as mine:
        money = (await mine.get("/app/view/money")).text
        assert "Refunds waiting (1)" in money
        page = (await mine.get("/app/view/refunds")).text
        assert "Refund #1 · KES 300" in page and "“damaged cable returned”" in page
        assert "You asked for it: another manager must approve it." in page
        refused = await mine.post("/app/act/refund/1/approve")
        assert refused.status_code == 403
        assert "another manager must approve it (PAYROLL_APPROVALS=2)" in refused.text
    assert daraja.operator_stats.payouts_accepted == 0
    async with web_client(app, other.id) as theirs:
        page = (await theirs.get("/app/view/refunds")).text
        assert 'data-post="/app/act/refund/1/approve"' in page
        done = await theirs.post("/app/act/refund/1/approve")
        assert done.status_code == 200
        assert "✅ Refund #1 approved: it is being sent." in done.text
        assert "No refund is waiting for a decision." in done.text
    await card(tg, boss, "Refunded")  # the chat's card followed the board's approval
    assert (await Refund.get(id=1)).status is RefundStatus.REFUNDED
    await tg.send_text(boss, "/refund 1 | 1200 | the rest")
    await card(tg, boss, "Waiting for another manager", refund=2)
    async with web_client(app, other.id) as theirs:
        done = await theirs.post("/app/act/refund/2/reject")
        assert done.status_code == 200 and "Refund #2 rejected: nothing was sent." in done.text
        late = await theirs.post("/app/act/refund/2/approve")
        assert late.status_code == 409 and late.text == "Refund #2 is already rejected."
    await card(tg, boss, "Rejected by Baraka Mwangi. Nothing was sent.", refund=2)
    assert daraja.operator_stats.payouts_accepted == 1


async def test_the_money_page_shows_who_owes(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, _, _ = await paid(app, tg, people, amount=1500)
    await tg.send_text(boss, "/charge Jane | 2000 | lost XLR cable")
    await tg.wait_for_bot_message(boss.id, "KES 2,000")
    async with web_client(app, boss.id) as client:
        page = (await client.get("/app/view/money")).text
    assert "Who owes" in page
    assert 'Jane Wanjiku</a></td><td class="num">KES 2,000</td></tr>' in page
    assert 'data-view="/app/view/payments?person=%232"' in page  # her payments, a tap away
    assert "The company owes nobody." in page
    assert "1 person owes KES 2,000 in all." in page
