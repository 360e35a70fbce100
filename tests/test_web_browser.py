# ruff: noqa: F811  (fixtures are imported from the helpers, then used)
"""The Mini App in a real browser (Debian's Chromium), opened as Telegram opens it: a manager
sees their home, a tampered, stale, unsigned or stranger's initData sees only why not, and the
first load stays under its 150 KB budget. Each page's screenshot lands in build/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from playwright.async_api import Page, expect

from bot.app import Callsheet
from handlers.web._render import STATIC
from services.clock import ManualClock
from tests.browser_helpers import (  # noqa: F401  (browser and page are fixtures)
    browser,
    init_data,
    open_mini_app,
    page,
    page_weight,
    shot,
    signed_for,
    telegram_calls,
)
from tests.conftest import People
from tests.test_initdata import VECTOR, VECTOR_TOKEN
from tests.web_helpers import base_url

BUDGET = 150 * 1024
REFUSED = "Open this from the bot's menu in Telegram"


def _fields(raw: str) -> dict[str, str]:
    return dict(parse_qsl(raw, keep_blank_values=True))


def _encoded(fields: dict[str, str]) -> str:
    return urlencode(fields, quote_via=quote)


def tampered(raw: str) -> str:
    """The same initData with one character of the user's name changed, hash kept."""
    fields = _fields(raw)
    assert "Wanjiku" in fields["user"]
    fields["user"] = fields["user"].replace("Wanjiku", "Wanjikv")
    return _encoded(fields)


def unsigned(raw: str) -> str:
    fields = _fields(raw)
    del fields["hash"]
    return _encoded(fields)


@pytest.mark.parametrize("telegram_js", [True, False], ids=["telegram-web-app", "fragment-only"])
async def test_a_manager_opens_the_mini_app_and_sees_their_home(
    app: Callsheet, people: People, page: Page, telegram_js: bool
) -> None:
    _, user = await people.add("Wanjiku Kamau", "0712000001", manager=True)
    if not telegram_js:
        # What Telegram for Android gives a page that does not load telegram-web-app.js.
        await page.add_init_script(
            "window.proxied = [];"
            "window.TelegramWebviewProxy = {postEvent: function (t, d) { proxied.push(t); }};"
        )

    await open_mini_app(page, base_url(app), signed_for(app, user), telegram_js=telegram_js)

    view = page.locator("#view")
    await expect(view).to_contain_text("Hello, Wanjiku Kamau")
    await expect(view).to_contain_text("Manager")
    await expect(page.locator("header.top")).to_contain_text("Sauti Sound")
    await expect(page.locator("#error")).to_be_hidden()
    await expect(page.locator("#loading")).to_have_count(0)
    # The shell told Telegram it is ready and asked for the full height.
    if telegram_js:
        assert (await telegram_calls(page))[:2] == ["ready", "expand"]
    else:
        assert await page.evaluate("window.proxied") == ["web_app_ready", "web_app_expand"]


@pytest.mark.parametrize(
    ("case", "make", "reason"),
    [
        ("tampered", lambda raw, _: tampered(raw), "not signed by this bot"),
        ("expired", None, "more than a day old"),
        ("missing-hash", lambda raw, _: unsigned(raw), "has no hash"),
        ("stranger", lambda _, stranger: stranger, "not linked to anyone"),
    ],
    ids=["tampered", "expired", "missing-hash", "stranger"],
)
async def test_initdata_that_proves_nothing_shows_nothing(
    app: Callsheet,
    people: People,
    clock: ManualClock,
    page: Page,
    case: str,
    make: Callable[[str, str], str] | None,
    reason: str,
) -> None:
    _, user = await people.add("Wanjiku Kamau", "0712000001", manager=True)
    if make is None:
        # Signed properly, 25 hours before the app's clock: a copied link from yesterday.
        raw = signed_for(app, user, at=clock.now() - timedelta(hours=25))
    else:
        stranger = init_data(
            app.settings.require_bot_token(),
            user_id=999_999,
            first_name="Someone",
            auth_date=clock.now(),
        )
        raw = make(signed_for(app, user), stranger)

    await open_mini_app(page, base_url(app), raw)

    banner = page.locator("#error")
    await expect(banner).to_be_visible()
    if case == "stranger":
        await expect(banner).to_contain_text("not linked to anyone here")
    else:
        await expect(banner).to_contain_text(REFUSED)
    await expect(banner).to_contain_text(reason)
    await expect(page.locator("#view")).to_have_text("")
    assert "Wanjiku Kamau" not in await page.locator("body").inner_text()
    assert "Manager" not in await page.locator("body").inner_text()


async def test_the_first_load_of_the_mini_app_stays_under_150_kb(
    app: Callsheet, people: People, page: Page
) -> None:
    _, user = await people.add("Wanjiku Kamau", "0712000001", manager=True)

    await open_mini_app(page, base_url(app), signed_for(app, user))
    await expect(page.locator("#view")).to_contain_text("Hello, Wanjiku Kamau")
    weight = await page_weight(page)

    # Everything the shell loads was counted: at least its script and its stylesheet.
    static = sum((STATIC / name).stat().st_size for name in ("app.js", "app.css"))
    assert static < weight < BUDGET, f"first load {weight / 1024:.1f} KB"
    await shot(page, f"{weight // 1024}KB")


def test_the_tests_sign_initdata_exactly_as_telegram_does() -> None:
    """The signer the browser tests use reproduces Telegram's published initData (the same
    vector tests/test_initdata.py checks the server against) byte for byte."""
    assert (
        init_data(
            VECTOR_TOKEN,
            user_id=279058397,
            first_name="Vladislav",
            last_name="Kibenko",
            username="vdkfrost",
            language_code="ru",
            is_premium=True,
            auth_date=1662771648,
        )
        == VECTOR
    )
