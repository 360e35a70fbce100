"""`callsheet demo`: the whole system, offline, with a manager and two crew members.

Runs the real bot and HTTP server against the sandbox Telegram server, a temporary SQLite
database and a folder of emails, plays the people, and prints what each of them saw.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import db
from bot.app import Callsheet
from bot.demo_helpers import free_port, link_in, print_emails, stage_plot_pdf
from bot.demo_web import play_web
from bot.settings import Settings, load_settings
from models import Access, OutboxMessage, OutboxStatus
from sandbox.daraja import (
    SANDBOX_INITIATOR,
    SANDBOX_INITIATOR_PASSWORD,
    SANDBOX_PASSKEY,
    SANDBOX_SHORTCODE,
    DarajaSandbox,
    Delivery,
    Outcome,
)
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ShiftedClock
from services.payroll.sender import PaySender
from services.people import Invite

DEMO_TOKEN = "700000001:DEMOdemoDEMOdemoDEMOdemoDEMOdemo00"
DEMO_BOT = "sauti_callsheet_bot"
DEMO_KEY, DEMO_SECRET = "demo-consumer-key", "demo-consumer-secret"


DEMO_PNG = "callsheet-demo-stats.png"  # in the system's temporary folder unless told


class Demo:
    def __init__(self, root: Path, png: Path) -> None:
        self.root = root
        self.png = png
        self.tg = TelegramSandbox()
        self.tg.add_bot(DEMO_TOKEN, DEMO_BOT, first_name="Sauti Crew")
        self.clock = ShiftedClock()
        self.daraja = DarajaSandbox(DEMO_KEY, DEMO_SECRET, clock=self.clock.now)
        self.port = free_port()
        self.app: Callsheet | None = None
        self.shown = 0

    def make_settings(self) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": DEMO_TOKEN,
            "telegram_api_base_url": self.tg.base_url,
            "database_url": f"sqlite://{self.root / 'demo.sqlite3'}",
            "email_backend": "folder",
            "email_folder": str(self.root / "mail"),
            "http_port": self.port,
            "public_base_url": f"http://127.0.0.1:{self.port}",
            "company_name": "Sauti Sound",
            "daraja_base_url": self.daraja.base_url,
            "daraja_consumer_key": DEMO_KEY,
            "daraja_consumer_secret": DEMO_SECRET,
            "daraja_shortcode": SANDBOX_SHORTCODE,
            "daraja_passkey": SANDBOX_PASSKEY,
            "daraja_callback_secret": secrets.token_hex(16),
            # Paying the crew (B2C): the sandbox's own operator and certificate.
            "daraja_initiator_name": SANDBOX_INITIATOR,
            "daraja_initiator_password": SANDBOX_INITIATOR_PASSWORD,
            "daraja_certificate": str(self.daraja.certificate.write(self.root / "sandbox.pem")),
            "timezone": "Africa/Nairobi",
        }
        # No .env and no environment: the demo runs the same on every machine.
        return load_settings(_env_file=None, **values)

    def section(self, title: str) -> None:
        lines = self.tg.transcript()[self.shown :]
        self.shown += len(lines)
        print(f"\n=== {title} " + "=" * max(3, 70 - len(title)))
        for line in lines:
            print(line)

    async def say(self, user: SandboxUser, text: str, expect: str) -> None:
        last = self.tg.last_bot_message(user.id)
        after = last["message_id"] if last else None
        await self.tg.send_text(user, text)
        await self.tg.wait_for_bot_message(user.id, expect, after=after, timeout=10)

    async def add(self, name: str, phone: str, email_address: str | None, access: Access) -> Invite:
        assert self.app is not None and self.app.services is not None
        return await self.app.services.people.add_person(
            name=name, phone=phone, email=email_address, access=access
        )

    async def drained(self) -> None:
        """Until every queued message has been delivered (or given up)."""
        busy = [OutboxStatus.PENDING, OutboxStatus.SENDING]
        await until(lambda: OutboxMessage.filter(status__in=busy).exists(), expect=False)

    async def run(self) -> None:
        await self.tg.start()
        await self.daraja.start()
        try:
            settings = self.make_settings()
            await db.migrate(settings.database_url)
            self.app = Callsheet(settings, clock=self.clock)
            await self.app.start()
            try:
                await self.play()
            finally:
                await self.app.stop()
        finally:
            await self.daraja.stop()
            await self.tg.stop()

    async def play(self) -> None:
        tg = self.tg
        print("Callsheet demo: a sound company's manager and two crew, all offline.")
        print(f"(Telegram stand-in at {tg.base_url}, SQLite and emails in {self.root})")

        boss_invite = await self.add(
            "Achieng Otieno", "0711 000 001", "achieng@sautisound.example", Access.MANAGER
        )
        print(
            "\n$ callsheet add-manager --name 'Achieng Otieno' --phone '0711 000 001' "
            "--email achieng@sautisound.example"
        )
        print(f"Added manager #{boss_invite.person.id} Achieng Otieno (+254711000001).")
        print(f"Telegram link: {boss_invite.link}")

        achieng = tg.user(501, "Achieng", "Otieno", username="achieng")
        await self.say(achieng, f"/start {boss_invite.link.rsplit('=', 1)[1]}", "linked")
        self.section("Achieng opens her link: linked by deep link")

        await self.say(
            achieng,
            "/addcrew Jane Wanjiku | 0712 345 678 | jane@example.com | sound engineer, rigger",
            "one-time link",
        )
        jane_link = link_in(tg.last_bot_message(achieng.id))
        await self.say(achieng, "/addcrew Otieno Kamau | 0722 111 222 | | rigger", "forward")
        await self.say(achieng, "/crew", "Otieno Kamau")
        self.section("Achieng adds two crew from her phone, and looks at the roster")

        jane = tg.user(502, "Jane", "Wanjiku", username="janew")
        await self.say(jane, f"/start {jane_link.rsplit('=', 1)[1]}", "linked")
        self.section("Jane opens the link from her invite email")

        otieno = tg.user(503, "Otieno", "Kamau")
        await self.say(otieno, "/start", "Share my phone number")
        last = tg.last_bot_message(otieno.id)
        assert last is not None
        await tg.share_contact(otieno, "+254722111222")
        await tg.wait_for_bot_message(otieno.id, "linked", after=last["message_id"], timeout=10)
        self.section("Otieno has no link: he shares his phone number instead")

        stranger = tg.user(599, "Brian")
        await self.say(stranger, "/help", "manager must add you")
        self.section("Someone the company never added")

        await self.say(achieng, "/help", "Manager")
        self.section("/help for a manager")
        await self.say(jane, "/help", "Here is what you can do")
        self.section("/help for crew")

        await self.play_events(achieng, jane, otieno)
        await self.play_payments(achieng, jane, otieno)
        await self.play_payday(achieng, jane)
        await self.play_documents(achieng, jane)
        await self.play_backups(achieng, otieno)
        await play_web(self, achieng)
        await self.play_insight(achieng)

        await self.drained()
        print_emails(self.root / "mail")

    async def press(self, user: SandboxUser, message: dict[str, Any], button: str) -> None:
        query = await self.tg.press(user, message["message_id"], button)
        await self.tg.wait_for_callback_answer(query, timeout=10)

    async def play_events(
        self, achieng: SandboxUser, jane: SandboxUser, otieno: SandboxUser
    ) -> None:
        tg = self.tg
        day = (self.clock.now() + timedelta(days=3)).astimezone(ZoneInfo("Africa/Nairobi"))
        await self.say(
            achieng,
            f"/newevent Harusi ya Wanjiru | {day:%Y-%m-%d} 18:00 | 23:00 | KICC, Nairobi "
            "| call 15:00 | bring XLR cables | crew 2",
            "Event #1 created",
        )
        await self.say(achieng, "/assign 1 | 0712345678 | sound engineer", "Jane Wanjiku")
        await self.say(achieng, "/assign 1 | 0722111222 | rigger", "Otieno Kamau")
        self.section("Achieng creates an event and invites Jane and Otieno")

        invitation = await tg.wait_for_bot_message(jane.id, "Please answer", timeout=15)
        await self.press(jane, invitation, "✅ Confirm")
        await tg.wait_for_bot_message(achieng.id, "Jane Wanjiku confirmed", timeout=15)
        invitation = await tg.wait_for_bot_message(otieno.id, "Please answer", timeout=15)
        await self.press(otieno, invitation, "❌ Decline")
        await tg.wait_for_bot_message(otieno.id, "just type the reason", timeout=15)
        await tg.send_text(otieno, "I have another gig that night")
        await tg.wait_for_bot_message(otieno.id, "Your reason is on its way", timeout=15)
        await tg.wait_for_bot_message(achieng.id, "another gig", timeout=15)
        self.section("Jane confirms; Otieno declines and says why; Achieng is told each time")

        call = day.replace(hour=15, minute=0, second=0, microsecond=0)
        self.clock.advance(call - timedelta(hours=24, minutes=-1) - self.clock.now())
        print(
            f"\n(The demo's clock jumps to {call - timedelta(hours=24):%a %d %b %H:%M}, "
            "24 hours before call time.)"
        )
        await tg.wait_for_bot_message(jane.id, "Reminder: call time in", timeout=20)
        self.section("The 24-hour reminder reaches Jane (Otieno declined: none for him)")

        await self.say(achieng, "/brief 1 | Load in at gate B. Wear black.", "Briefing sent")
        briefing = await tg.wait_for_bot_message(jane.id, "gate B", timeout=15)
        await self.press(jane, briefing, "✅ I've read it")
        await self.say(achieng, "/event 1", "Harusi ya Wanjiru")
        self.section("Achieng sends the setup briefing; Jane reads it; the event card shows it")

    async def live(self, user: SandboxUser, message_id: int, expect: str) -> None:
        await self.tg.wait_for_bot_message(user.id, expect, message_id=message_id, timeout=15)

    async def play_payments(
        self, achieng: SandboxUser, jane: SandboxUser, otieno: SandboxUser
    ) -> None:
        tg = self.tg
        await self.say(achieng, "/charge Jane | 2500 | Lost XLR cable and DI box", "KES 2,500")
        await self.say(achieng, "/charge Otieno Kamau | 800 | Transport advance", "KES 800")
        self.section("Achieng records what Jane and Otieno owe")

        self.daraja.next_outcome("254712345678", Outcome.SUCCESS)
        await self.say(achieng, "/request Jane | 1500 | Cable, part 1", "Jane Wanjiku")
        status = tg.last_bot_message(achieng.id)
        assert status is not None
        await self.live(achieng, status["message_id"], "✅ Jane Wanjiku paid KES 1,500")
        await tg.wait_for_bot_message(jane.id, "✅ Paid KES 1,500", timeout=15)
        self.section("An STK push: Jane enters her PIN, both messages turn to paid")

        self.daraja.next_outcome("254722111222", Outcome.CANCELLED)
        await self.say(achieng, "/request Otieno Kamau | 800 | Transport advance", "Otieno Kamau")
        status = tg.last_bot_message(achieng.id)
        assert status is not None
        await self.live(achieng, status["message_id"], "did not pay")
        self.section("Otieno dismisses the prompt: the message says so, with Resend")

        self.daraja.next_outcome("254722111222", Outcome.SUCCESS)
        query = await tg.press(achieng, status["message_id"], "Resend")
        await tg.wait_for_callback_answer(query)
        await tg.wait_for_bot_message(
            achieng.id, "✅ Otieno Kamau paid KES 800", after=status["message_id"], timeout=15
        )
        self.section("Achieng taps Resend; this time Otieno pays")

        await self.say(achieng, "/event 1", "Harusi ya Wanjiru")
        card = tg.last_bot_message(achieng.id)
        await self.press(achieng, card or {}, "Request payment")
        picker = await tg.wait_for_bot_message(achieng.id, "Who should pay?", timeout=15)
        await self.press(achieng, picker, "Done (1)")
        await tg.wait_for_bot_message(achieng.id, "How much should each", timeout=15)
        await self.say(achieng, "500 | Crew lunch", "Ask 1 person")
        question = tg.last_bot_message(achieng.id)
        assert question is not None
        await self.press(achieng, question, "Send")
        await self.live(achieng, question["message_id"], "1 paid")
        self.section("Request payment on the event card: the confirmed crew asked at once")

        await self.say(achieng, "/balances", "Jane Wanjiku")
        await self.say(jane, "/balance", "You owe KES 500")
        self.section("Balances")

    async def play_payday(self, achieng: SandboxUser, jane: SandboxUser) -> None:
        tg = self.tg
        self.clock.advance(timedelta(days=1, hours=2))
        print("\n(The demo's clock jumps past the gig: time to pay the crew.)")
        await self.say(achieng, "/rates sound engineer | 3500", "KES 3,500")
        await self.say(achieng, "/payroll 1", "version 1 · draft")
        sheet = await tg.wait_for_bot_message(achieng.id, "version 1 · draft", timeout=10)
        await self.say(achieng, "/payroll 1 | Jane | deduct all", "Net KES 3,000")
        await self.live(achieng, sheet["message_id"], "deduct 500")
        await self.press(achieng, sheet, "Submit")
        await self.live(achieng, sheet["message_id"], "Waiting for approval")
        await self.press(achieng, sheet, "Approve")
        await self.live(achieng, sheet["message_id"], "Frozen")
        self.section("Achieng sets the rate, deducts what Jane owes, and approves the pay sheet")

        # Jane is paid, but M-Pesa's result never reaches Callsheet.
        self.daraja.next_payout("254712345678", "0", Delivery.LOST)
        await self.press(achieng, sheet, "Pay now")
        await self.live(achieng, sheet["message_id"], "1 checking")
        self.section("Pay now: the balance covers it; Jane's payout leaves, its result is lost")

        self.clock.advance(timedelta(minutes=2, seconds=1))
        print("\n(Two minutes without a result: Callsheet asks M-Pesa's Transaction Status.)")
        assert self.app is not None
        for worker in self.app.workers:
            if isinstance(worker, PaySender):
                worker.sweep_now()
        await self.live(achieng, sheet["message_id"], "Paid in full")
        await tg.wait_for_bot_message(jane.id, "Payslip", timeout=15)
        await self.say(jane, "/pay", "Harusi ya Wanjiru")
        self.section("Transaction Status confirms it: the sheet is paid, Jane gets her payslip")

    async def play_documents(self, achieng: SandboxUser, jane: SandboxUser) -> None:
        tg = self.tg
        day = (self.clock.now() + timedelta(days=5)).astimezone(ZoneInfo("Africa/Nairobi"))
        await self.say(
            achieng,
            f"/newevent Sauti Live | {day:%Y-%m-%d} 19:00 | 23:00 | Carnivore | call 16:00",
            "Event #2 created",
        )
        await self.say(achieng, "/assign 2 | 0712345678 | sound engineer", "Jane Wanjiku")
        invitation = await tg.wait_for_bot_message(jane.id, "Sauti Live", timeout=15)
        await self.press(jane, invitation, "✅ Confirm")
        await tg.wait_for_bot_message(achieng.id, "Answers · #2 Sauti Live", timeout=15)
        last = tg.last_bot_message(achieng.id)
        await tg.send_document(
            achieng, "stage-plot.pdf", stage_plot_pdf("Sauti Live"), caption="/attach 2"
        )
        await tg.wait_for_bot_message(
            achieng.id, "Attached", after=last["message_id"] if last else None, timeout=15
        )
        self.section("The next gig: Achieng attaches the stage plot to it (a PDF, captioned)")
        await self.say(
            achieng, "/brief 2 | Stage plot attached. Soundcheck 17:00.", "Briefing sent"
        )
        await tg.wait_for(
            lambda: any(
                m.get("document", {}).get("file_name") == "stage-plot.pdf"
                for m in tg.bot_messages(jane.id)
            ),
            timeout=15,
            description="the stage plot in Jane's chat",
        )
        self.section("The briefing carries it: Jane gets the PDF in chat, and attached by email")

    async def play_backups(self, achieng: SandboxUser, otieno: SandboxUser) -> None:
        """Needs per role, and a decline whose spot is offered to the next free person."""
        tg = self.tg
        await self.say(achieng, "/addcrew Wanjiru Muthoni | 0733 444 555 | | lights", "forward")
        wanjiru_link = link_in(tg.last_bot_message(achieng.id))
        wanjiru = tg.user(504, "Wanjiru", "Muthoni")
        await self.say(wanjiru, f"/start {wanjiru_link.rsplit('=', 1)[1]}", "linked")
        day = (self.clock.now() + timedelta(days=3)).astimezone(ZoneInfo("Africa/Nairobi"))
        await self.say(
            achieng,
            f"/newevent Tamasha | {day:%Y-%m-%d} 19:00 | 23:30 | Carnivore, Nairobi "
            "| call 16:00 | needs lights 1",
            "Event #3 created",
        )
        await self.say(achieng, "/assign 3 | 0722111222 | lights", "Otieno Kamau")
        self.section("Achieng adds Wanjiru (lights), creates an event needing lights 1")

        invitation = await tg.wait_for_bot_message(otieno.id, "Please answer", timeout=15)
        await self.press(otieno, invitation, "❌ Decline")
        offer = await tg.wait_for_bot_message(wanjiru.id, "A spot is open", timeout=15)
        await tg.wait_for_bot_message(achieng.id, "offered to Wanjiru Muthoni", timeout=15)
        self.section("Otieno declines: the spot goes to Wanjiru, the next free person for lights")

        await self.press(wanjiru, offer, "✅ Confirm")
        await tg.wait_for_bot_message(achieng.id, "took the lights spot", timeout=15)
        await self.say(achieng, "/event 3", "Needs: lights 1/1")
        self.section("Wanjiru takes the spot; the card shows lights 1/1")

    async def play_insight(self, achieng: SandboxUser) -> None:
        tg = self.tg
        await self.say(achieng, "/activity Jane", "Activity · Jane Wanjiku")
        self.section("/activity: everything Jane did, and was done about her, newest first")
        await self.say(achieng, "/stats", "📊")
        asked = tg.last_bot_message(achieng.id)
        assert asked is not None
        photo = await tg.wait_for(
            lambda: next(
                (m for m in tg.bot_messages(achieng.id) if "photo" in m),
                None,
            ),
            timeout=60,
            description="the /stats chart",
        )
        content = tg.files[photo["photo"][-1]["file_id"]].content
        assert content is not None
        self.png.write_bytes(content)
        self.section("/stats: the month in numbers, and its chart as a photo")
        print(f"(The chart Achieng got is saved as {self.png}: open it to see it.)")


async def until(
    check: Callable[[], Awaitable[Any]], *, expect: bool = True, seconds: float = 15.0
) -> None:
    async with asyncio.timeout(seconds):
        while bool(await check()) is not expect:  # noqa: ASYNC110 - the state is in the database
            await asyncio.sleep(0.05)


async def run_demo(png: Path | None = None) -> int:
    """`png`: where to save the /stats chart the demo ends with (it outlives the demo's
    temporary folder); the system's temporary folder by default."""
    chart = png or Path(tempfile.gettempdir()) / DEMO_PNG
    with tempfile.TemporaryDirectory(prefix="callsheet-demo-") as tmp:
        await Demo(Path(tmp), chart.resolve()).run()
    print("Demo finished: every message above went through the real bot, database and outbox.")
    return 0
