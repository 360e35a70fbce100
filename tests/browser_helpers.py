"""A real browser in the tests: Debian's Chromium driven by Playwright's async API.

One headless Chromium runs for the whole session (the `chromium` fixture in conftest.py starts
it from /usr/bin/chromium, or $CALLSHEET_CHROMIUM: never a browser Playwright downloads).
Each test connects to it with its own Playwright and gets a fresh browser context, so tests
share no cookies, storage or cache. Launching a Chromium per test cost about a second more per
test, and pytest-asyncio's per-test event loop rules out one Playwright for the whole session.

    from tests.browser_helpers import browser, open_mini_app, page, shot, signed_for  # noqa: F401

    async def test_x(app: Callsheet, people: People, page: Page) -> None:
        boss, user = await people.add("Wanjiku Kamau", "0712000001", manager=True)
        await open_mini_app(page, base_url(app), signed_for(app, user))
        await expect(page.locator("#view")).to_contain_text("Wanjiku Kamau")
        await shot(page, "home")  # and the page as the test left it, on teardown

Screenshots go to $CALLSHEET_ARTEFACTS or build/screenshots/, named after the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode
from weakref import WeakKeyDictionary

import pytest
from playwright.async_api import (
    Browser,
    Dialog,
    Page,
    Request,
    ViewportSize,
    async_playwright,
    expect,
)

from bot.app import Callsheet
from sandbox.telegram import SandboxUser

REPO = Path(__file__).resolve().parent.parent
STAND_IN = Path(__file__).resolve().parent / "telegram_web_app.js"
# A mid-range Android phone, where the Mini App and the checkout are mostly opened.
PHONE = ViewportSize(width=412, height=915)
# Telegram for Android's default light theme, as it passes it in tgWebAppThemeParams.
THEME = {
    "bg_color": "#ffffff",
    "text_color": "#000000",
    "hint_color": "#999999",
    "link_color": "#2481cc",
    "button_color": "#2481cc",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#efeff3",
    "header_bg_color": "#ffffff",
    "accent_text_color": "#2481cc",
    "section_bg_color": "#ffffff",
    "section_header_text_color": "#6d6d71",
    "subtitle_text_color": "#999999",
    "destructive_text_color": "#ff3b30",
}
# Keys of initData's `user` object; any other keyword of init_data() is a field of its own.
USER_KEYS = {
    "last_name",
    "username",
    "language_code",
    "is_premium",
    "allows_write_to_pm",
    "photo_url",
    "added_to_attachment_menu",
}
# Chromium started as Playwright starts it, less what needs its own build: no first-run
# screens, no background network, timers not throttled in a page nobody looks at.
FLAGS = [
    "--headless",
    "--remote-debugging-port=0",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--password-store=basic",
    "--use-mock-keychain",
]
# Under two busy cores a page may take seconds; a real fault still fails well within a test.
expect.set_options(timeout=10_000)


def artefacts() -> Path:
    folder = Path(os.environ.get("CALLSHEET_ARTEFACTS") or REPO / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium_path() -> str:
    wanted = os.environ.get("CALLSHEET_CHROMIUM", "/usr/bin/chromium")
    found = shutil.which(wanted)
    if found is None:
        pytest.fail(
            f"Chromium is not at {wanted}: the browser tests need Debian's Chromium. Install it "
            "with `apt-get install chromium` (or point CALLSHEET_CHROMIUM at a Chromium).",
            pytrace=False,
        )
    return found


@contextlib.contextmanager
def running_chromium(timeout: float = 60) -> Iterator[str]:
    """A headless Chromium until the block ends; yields its DevTools WebSocket address."""
    executable = chromium_path()
    flags = [*FLAGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with tempfile.TemporaryDirectory(prefix="callsheet-chromium-") as profile:
        process = subprocess.Popen(
            [executable, *flags, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its zygote and renderers go with it at the end
        )
        said: list[str] = []
        endpoint: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_read_stderr, args=(process, said, endpoint), daemon=True)
        reader.start()
        try:
            try:
                address = endpoint.get(timeout=timeout)
            except queue.Empty:
                address = None
            if address is None:
                pytest.fail(
                    f"{executable} did not start within {timeout:.0f} s (exit "
                    f"{process.poll()}); it said:\n" + "".join(said[-20:]),
                    pytrace=False,
                )
            yield address
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            reader.join(timeout=10)


def _read_stderr(
    process: subprocess.Popen[str], said: list[str], endpoint: queue.Queue[str | None]
) -> None:
    """Reads Chromium's stderr to the end (a full pipe would stall it) and hands over the
    DevTools address it prints once it listens."""
    assert process.stderr is not None
    with process.stderr:
        for line in process.stderr:
            said.append(line)
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                endpoint.put(found.group(1))
    endpoint.put(None)


@dataclass
class _Watch:
    """What a test's page did: its requests, its script errors, the dialogs it opened."""

    name: str
    finished: list[Request] = field(default_factory=list)
    pending: set[Request] = field(default_factory=set)
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    accept_dialogs: bool = True
    stand_in: bool = False
    shots: int = 0


_watches: WeakKeyDictionary[Page, _Watch] = WeakKeyDictionary()


def _watch(page: Page, name: str) -> _Watch:
    watch = _Watch(name)
    watch.settled.set()

    def started(request: Request) -> None:
        if request.resource_type != "eventsource":  # a stream never finishes by design
            watch.pending.add(request)
            watch.settled.clear()

    def ended(request: Request, done: bool) -> None:
        if request in watch.pending:
            watch.pending.discard(request)
            if done:
                watch.finished.append(request)
            if not watch.pending:
                watch.settled.set()

    def console(message: object) -> None:
        text = getattr(message, "text", "")
        if getattr(message, "type", "") == "error" and "Content Security Policy" in text:
            watch.errors.append(f"CSP: {text}")

    async def dialog(opened: Dialog) -> None:
        watch.dialogs.append(opened.message)
        await (opened.accept() if watch.accept_dialogs else opened.dismiss())

    page.on("request", started)
    page.on("requestfinished", lambda request: ended(request, True))
    page.on("requestfailed", lambda request: ended(request, False))
    page.on("pageerror", lambda error: watch.errors.append(f"script error: {error}"))
    page.on("console", console)
    page.on("dialog", dialog)
    _watches[page] = watch
    return watch


def _watched(page: Page) -> _Watch:
    try:
        return _watches[page]
    except KeyError:
        raise AssertionError("this page was not opened by the `page` fixture") from None


def _test_name(node: pytest.Item) -> str:
    module = Path(str(node.path)).stem
    return re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", f"{module}.{node.name}")


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """The session's Chromium, connected for this test (closing it closes only our contexts)."""
    async with async_playwright() as playwright:
        connected = await playwright.chromium.connect_over_cdp(chromium)
        try:
            yield connected
        finally:
            await connected.close()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A phone-sized page in a context of its own. On teardown: its screenshot, named after the
    test, and the test fails if a script threw or the CSP refused something."""
    context = await browser.new_context(viewport=PHONE, timezone_id="Africa/Nairobi")
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    watch = _watch(opened, _test_name(request.node))
    try:
        yield opened
        if not opened.is_closed():
            await shot(opened)
    finally:
        await context.close()
    assert not watch.errors, "the page broke:\n" + "\n".join(watch.errors)


async def shot(page: Page, name: str | None = None) -> Path:
    """Saves the whole page as <test>.png, or <test>--<name>.png, in the artefacts folder."""
    watch = _watched(page)
    path = artefacts() / (f"{watch.name}--{name}.png" if name else f"{watch.name}.png")
    await page.screenshot(path=path, full_page=True)
    watch.shots += 1
    return path


def dialogs(page: Page) -> list[str]:
    """The questions (confirm, alert) the page asked; each was answered OK unless
    answer_dialogs(page, accept=False)."""
    return _watched(page).dialogs


def answer_dialogs(page: Page, *, accept: bool) -> None:
    _watched(page).accept_dialogs = accept


def init_data(
    bot_token: str,
    *,
    user_id: int,
    first_name: str,
    auth_date: datetime | int,
    **extra: str | int | bool,
) -> str:
    """initData as Telegram signs it, computed here from Telegram's documentation and not with
    the server's code: HMAC-SHA256 of the sorted `key=value` lines (all but `hash`) under the
    key HMAC-SHA256("WebAppData", bot token). `username`, `last_name`… go in `user`; any other
    keyword (start_param, chat_type…) is a field of its own."""
    user: dict[str, str | int | bool] = {"id": user_id, "first_name": first_name}
    user.update({key: value for key, value in extra.items() if key in USER_KEYS})
    when = auth_date if isinstance(auth_date, int) else int(auth_date.timestamp())
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":"), ensure_ascii=False),
        "auth_date": str(when),
    }
    fields.update({key: str(value) for key, value in extra.items() if key not in USER_KEYS})
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    # Telegram's client encodes as encodeURIComponent does: %20, never '+'.
    return urlencode(fields, quote_via=quote)


def signed_for(app: Callsheet, user: SandboxUser, *, at: datetime | None = None) -> str:
    """initData for a sandbox user, signed with the app's bot token at the app's clock time."""
    assert app.services is not None
    extra = {"username": user.username} if user.username else {}
    return init_data(
        app.settings.require_bot_token(),
        user_id=user.id,
        first_name=user.first_name,
        auth_date=at or app.services.clock.now(),
        **extra,
    )


async def open_mini_app(
    page: Page,
    base_url: str,
    init_data: str,
    *,
    path: str = "/app/",
    telegram_js: bool = True,
) -> None:
    """Opens the page as Telegram for Android does: the launch parameters in the URL fragment,
    and (unless telegram_js=False) window.Telegram.WebApp as telegram-web-app.js provides it.
    Returns once the page has loaded; its scripts may still be fetching."""
    watch = _watched(page)
    if telegram_js and not watch.stand_in:
        await page.add_init_script(path=STAND_IN)
        watch.stand_in = True
    elif not telegram_js and watch.stand_in:
        raise AssertionError("this page already has the stand-in Telegram: use a fresh page")
    fragment = urlencode(
        {
            "tgWebAppData": init_data,
            "tgWebAppVersion": "7.10",
            "tgWebAppPlatform": "android",
            "tgWebAppThemeParams": json.dumps(THEME, separators=(",", ":")),
        },
        quote_via=quote,
    )
    if page.url != "about:blank":
        # A new fragment on the same page is no new load: start from nothing, as Telegram does.
        await page.goto("about:blank")
    watch.finished.clear()
    await page.goto(f"{base_url.rstrip('/')}{path}#{fragment}")


async def telegram_calls(page: Page) -> list[str]:
    """What the page asked of Telegram, in order: "ready", "expand", "MainButton.show"…"""
    calls = await page.evaluate("(window.TelegramStandIn || {calls: []}).calls.map(c => c.name)")
    assert isinstance(calls, list)
    return [str(call) for call in calls]


async def page_weight(page: Page, timeout: float = 15) -> int:
    """Bytes of every response body since the page was opened (or open_mini_app loaded it),
    once nothing is in flight: the first load, when called after it."""
    watch = _watched(page)
    await page.wait_for_load_state("load")
    async with asyncio.timeout(timeout):
        await watch.settled.wait()
    total = 0
    for request in watch.finished:
        response = await request.response()
        if response is None or 300 <= response.status < 400:
            continue  # a redirect carries no body worth counting
        total += len(await response.body())
    return total
