"""The demo's web part: the Mini App's URL for Achieng, the client's checkout link, and
screenshots of both taken by a headless Chromium when the machine has one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from models.checkout import Instalment
from sandbox.telegram import SandboxUser
from services.webapp.initdata import sign_init_data

if TYPE_CHECKING:
    from bot.demo import Demo

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# A mid-range Android phone's screen, in CSS pixels.
PHONE = (412, 915)
BOARD_PNG = "callsheet-demo-board.png"  # beside the /stats chart
CHECKOUT_PNG = "callsheet-demo-checkout.png"


def chromium() -> str | None:
    given = os.environ.get("CALLSHEET_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


async def screenshot(url: str, path: Path, *, wait_ms: int = 4000) -> str:
    """Save what a phone shows at `url` as `path`; says what was done, for the transcript."""
    binary = chromium()
    if binary is None:
        return "(no screenshot: install Chromium, `apt-get install chromium`, to get one)"
    with tempfile.TemporaryDirectory(prefix="callsheet-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={PHONE[0]},{PHONE[1]}",
            # Scripts run and fetch before the picture is taken.
            f"--virtual-time-budget={wait_ms}",
            # A page that keeps a stream open (the checkout while more is due) never goes
            # idle: stop loading after this long and take the picture anyway.
            f"--timeout={wait_ms * 2}",
            f"--screenshot={path}",
            url,
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        try:
            async with asyncio.timeout(60):
                _, errors = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            return "(no screenshot: Chromium did not finish within a minute)"
    if process.returncode != 0 or not os.path.exists(path):  # noqa: ASYNC240 - one stat
        last = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return f"(no screenshot: Chromium failed: {last[0][:200]})"
    return f"(saved as {path}: open it to see it)"


async def play_web(demo: Demo, achieng: SandboxUser) -> None:
    """Achieng's board in the Mini App, then a client paying a deposit on the checkout page."""
    app = demo.app
    assert app is not None and app.services is not None
    base = app.settings.public_base_url
    assert base is not None
    signed = sign_init_data(
        app.settings.require_bot_token(),
        user_id=achieng.id,
        first_name=achieng.first_name,
        auth_date=app.services.clock.now(),
    )
    board = f"{base}/app/#tgWebAppData={quote(signed, safe='')}&tgWebAppPlatform=android"
    print("\n=== The Mini App " + "=" * 53)
    print(f"Achieng's board: {base}/app/ while the demo runs (Telegram opens it from her")
    print("menu button, over HTTPS; here Chromium opens it with initData signed for her, as")
    print("Telegram would sign it: opened without that, the page shows nothing)")
    print(await screenshot(board, demo.png.with_name(BOARD_PNG)))

    link = await asked_link(
        demo, achieng, "/deposit 3 | Tamu Weddings | 0700 123 456 | 20000 | 2", "Send this link"
    )
    demo.section("Achieng asks Tamu Weddings for a deposit in 2 instalments: a link to send them")
    async with httpx.AsyncClient(timeout=15, headers={"Accept": "application/json"}) as http:
        pressed = await http.post(link, data={"phone": "0700 123 456"})
        pressed.raise_for_status()
        print(f"The client opens {link}, presses Pay and enters their PIN on the prompt.")
        await paid(http, link, "paid")
        told = await demo.tg.wait_for_bot_message(achieng.id, "paid KES 10,000", timeout=15)
        first = told["message_id"]
        demo.section("M-Pesa confirms the first instalment: Achieng is told, the page shows it")

        due = (await http.get(f"{link}/status")).json()
        assert due["state"] == "paid", due
        second = await next_due()
        demo.clock.advance(second - demo.clock.now() + timedelta(minutes=1))
        print(
            f"\n(The demo's clock jumps to the second instalment's date, {app.services.when(second)}.)"
        )
        assert app.checkout is not None
        app.checkout.wake()  # its next round would come within a minute
        await paid(http, link, "done")
        await demo.tg.wait_for_bot_message(achieng.id, "paid KES 10,000", timeout=15, after=first)
        demo.section("On its date the second prompt goes out by itself, and is paid")
    print(await screenshot(link, demo.png.with_name(CHECKOUT_PNG)))
    await play_invoice(demo, achieng)


async def play_invoice(demo: Demo, achieng: SandboxUser) -> None:
    """An invoice whose email carries a link: the client pays it there, and it is paid."""
    app = demo.app
    assert app is not None and app.services is not None and app.checkout is not None
    invoice = "Sound system 45000; Lighting 30,000"
    link = await asked_link(
        demo,
        achieng,
        f"/invoice 3 | Tamu Weddings | accounts@tamu.example | {invoice}",
        "Invoice INV-",
    )
    reply = demo.tg.last_bot_message(achieng.id)
    assert reply is not None
    demo.section("Achieng invoices Tamu Weddings: the PDF, and a link to pay it in its email")
    async with httpx.AsyncClient(timeout=15, headers={"Accept": "application/json"}) as http:
        pressed = await http.post(link, data={"phone": "0700 123 456"})
        pressed.raise_for_status()
        print(f"The client opens {link}, types their number, presses Pay and enters their PIN.")
        await paid(http, link, "done")
    app.checkout.wake()  # its next round would come within a minute
    await demo.tg.wait_for_bot_message(
        achieng.id, "paid invoice INV-", after=reply["message_id"], timeout=15
    )
    demo.section("Paid in full: the invoice is marked paid, Achieng told, the client thanked")


async def asked_link(demo: Demo, achieng: SandboxUser, command: str, expect: str) -> str:
    """Achieng's command, and the checkout link in the bot's answer (its text or caption)."""
    await demo.say(achieng, command, expect)
    reply = demo.tg.last_bot_message(achieng.id)
    assert reply is not None and demo.app is not None
    words = (reply.get("text") or reply.get("caption") or "").split()
    return next(w for w in words if w.startswith(f"{demo.app.settings.public_base_url}/pay/"))


async def paid(http: httpx.AsyncClient, link: str, state: str) -> None:
    """Until the page's live stream (what the client's page listens to) says `state`."""
    async with asyncio.timeout(30), http.stream("GET", f"{link}/events") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["state"] == state:
                return


async def next_due() -> datetime:
    """When the demo's only deposit's second instalment falls due."""
    second = await Instalment.get(number=2)
    return second.due_at
