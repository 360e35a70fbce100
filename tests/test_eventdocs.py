"""End to end through the sandbox: documents attached to events. Attached by caption or after
the card's Attach (across a restart), listed on the card and by /docs, carried by a briefing
(by file_id in chat, attached to the email), refused when too big, of a type we do not keep,
or sent by crew; any other document still goes to the statement reader."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image
from tortoise import connections

from bot.app import Callsheet
from bot.demo_helpers import stage_plot_pdf
from models import Access, AuditAction, AuditLog, Event, EventDocument, FileKind, Person
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.buttons.events import AttachTo
from services.clock import ManualClock
from services.eventdocs import EventDocuments, FileStore, Offered, digest
from tests.conftest import (
    BOT_TOKEN,
    START,
    Mailbox,
    People,
    app_settings,
    assert_stamped_by,
    make_settings,
)
from tests.event_setup import crew_and_event, fast_sandbox, forge_press, said
from tests.statements import TRANSFER, Line, as_csv

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
async def app(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    files: Path,
) -> AsyncIterator[Callsheet]:
    settings = app_settings(tg, database_url, smtp_server[1], files_dir=str(files))
    running = Callsheet(settings, clock=clock)
    await running.start()
    yield running
    try:
        await assert_stamped_by(clock)
    finally:
        await running.stop()


def kept(files: Path) -> list[str]:
    return sorted(p.name for p in files.rglob("*") if p.is_file())


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


async def confirmed_event(
    tg: TelegramSandbox, people: People
) -> tuple[SandboxUser, SandboxUser, SandboxUser, Event]:
    boss, jane, otieno, event = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")
    return boss, jane, otieno, event


async def send(
    tg: TelegramSandbox,
    user: SandboxUser,
    name: str,
    content: bytes,
    expect: str,
    **kwargs: object,
) -> dict:  # type: ignore[type-arg]
    last = tg.last_bot_message(user.id)
    sent = await tg.send_document(user, name, content, **kwargs)  # type: ignore[arg-type]
    after = max(last["message_id"] if last else 0, sent["message_id"])
    return await tg.wait_for_bot_message(user.id, expect, after=after)


async def test_attached_by_caption_listed_on_the_card_and_carried_by_the_briefing(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox, files: Path
) -> None:
    boss, jane, _, _ = await confirmed_event(tg, people)
    plot = stage_plot_pdf("Harusi ya Wanjiru")
    reply = await send(tg, boss, "stage-plot.pdf", plot, "Attached", caption="/attach 1")
    assert "📎 Attached stage-plot.pdf (1 KB) to #1 Harusi ya Wanjiru" in reply["text"]
    assert kept(files) == [digest(plot)]  # the copy for email, named by its content
    document = await EventDocument.get(id=1)
    assert (document.kind, document.mime_type, document.size) == (
        FileKind.DOCUMENT,
        "application/pdf",
        len(plot),
    )
    uploaded = tg.files[document.telegram_file_id]
    assert uploaded.content == plot
    # The same file again is one document and one copy.
    again = await send(tg, boss, "plot.pdf", plot, "already attached", caption="/attach 1")
    assert "nothing changed" in again["text"]
    assert await EventDocument.all().count() == 1 and kept(files) == [digest(plot)]

    card = await said(tg, boss, "/event 1", "Call time")
    assert "📎 Documents" in card["text"]
    assert "• stage-plot.pdf (1 KB) · Achieng Otieno, " in card["text"]

    await said(tg, boss, "/brief 1 | Load in at gate B", "Briefing sent to 1")
    briefing = await tg.wait_for_bot_message(jane.id, "Load in at gate B")
    assert "📎 1 document follows: stage-plot.pdf" in briefing["text"]
    forwarded = await tg.wait_for_bot_message(
        jane.id, "#1 Harusi ya Wanjiru", after=briefing["message_id"]
    )
    assert forwarded["document"]["file_name"] == "stage-plot.pdf"
    # Sent again by file_id: nothing uploaded, the same file Telegram already holds.
    assert forwarded["document"]["file_id"] == document.telegram_file_id
    sends = [r for r in tg.requests if r.method == "sendDocument" and r.status == 200]
    assert [r.params["document"] for r in sends] == [document.telegram_file_id]

    email = await mail.wait_for("jane@example.com", "Briefing: Harusi ya Wanjiru")
    attachments = list(email.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("stage-plot.pdf", "application/pdf")
    ]
    assert attachments[0].get_content() == plot


async def test_attach_button_then_a_photo_across_a_restart_and_docs_removes(
    app: Callsheet, tg: TelegramSandbox, people: People, files: Path
) -> None:
    boss, _, _, _ = await confirmed_event(tg, people)
    card = await said(tg, boss, "/event 1", "Call time")
    await tg.press(boss, card["message_id"], "Attach")
    await tg.wait_for_bot_message(boss.id, "Send the document or photo for #1")
    await said(tg, boss, "hello", "I am waiting for a document or photo for #1")
    await app.stop()
    await app.start()  # only the database remembers the pending Attach

    # A refused file leaves the Attach waiting for another.
    refused = await send(tg, boss, "setup.zip", b"PK\x03\x04", "not a type we keep")
    assert "Nothing was attached." in refused["text"]
    photo = jpeg()
    last = tg.last_bot_message(boss.id)
    assert last is not None
    await tg.send_photo(boss, photo)
    reply = await tg.wait_for_bot_message(boss.id, "Attached", after=last["message_id"])
    assert "Attached photo " in reply["text"] and "#1 Harusi ya Wanjiru" in reply["text"]
    assert (await EventDocument.get(id=1)).kind is FileKind.PHOTO
    # The Attach is used up: the next document is a statement again (and is not one).
    await send(tg, boss, "notes.txt", b"hello", "not an M-Pesa statement")
    assert await EventDocument.all().count() == 1

    # The same photo on a second event: one copy, kept until neither event uses it.
    await said(tg, boss, "/newevent Gala | 2026-12-12 18:00 | 23:00 | Sarova | call 15:00", "#2")
    await tg.send_photo(boss, photo, caption="/attach 2")
    await tg.wait_for_bot_message(boss.id, "to #2 Gala")
    assert kept(files) == [digest(photo)]
    listing = await said(tg, boss, "/docs 1", "Documents of #1")
    await tg.press(boss, listing["message_id"], "Remove 1.")
    await tg.wait_for_bot_message(boss.id, "Removed photo ")
    await tg.wait_for_bot_message(boss.id, "#1 Harusi ya Wanjiru has no documents")
    assert kept(files) == [digest(photo)]
    listing = await said(tg, boss, "/docs 2", "Documents of #2")
    await tg.press(boss, listing["message_id"], "Remove 1.")
    await tg.wait_for_bot_message(boss.id, "#2 Gala has no documents")
    assert kept(files) == []
    actions = await AuditLog.filter(action=AuditAction.EVENT_DOCUMENT_REMOVED).count()
    assert actions == 2


async def test_too_big_wrong_type_crew_and_no_event_are_refused_and_nothing_kept(
    app: Callsheet, tg: TelegramSandbox, people: People, files: Path
) -> None:
    boss, jane, _, _ = await confirmed_event(tg, people)
    big = b"%PDF-1.4\n" + b"0" * (21 * 1024 * 1024)
    refused = await send(tg, boss, "rider.pdf", big, "❌", caption="/attach 1")
    assert (
        "rider.pdf is 21.0 MB; Telegram lets the bot fetch files of at most 20 MB"
        in (refused["text"])
    )
    assert "Nothing was attached." in refused["text"]
    # Without a size in the message, Telegram's getFile refuses it ("file is too big").
    refused = await send(tg, boss, "rider.pdf", big, "❌", caption="/attach 1", with_size=False)
    assert "rider.pdf is over 20 MB, the most Telegram lets the bot fetch" in refused["text"]
    assert [r.description for r in tg.requests if r.method == "getFile"] == [
        "Bad Request: file is too big"
    ]

    refused = await send(tg, boss, "setup.zip", b"PK\x03\x04", "❌", caption="/attach 1")
    assert (
        "setup.zip is not a type we keep. Send PDF, JPEG, PNG or WebP images, Word"
        in (refused["text"])
    )
    refused = await send(tg, boss, "plot.pdf", b"MZ\x90\x00", "❌", caption="/attach 1")
    assert "plot.pdf is not a PDF, as its name says. Send PDF, JPEG" in refused["text"]
    refused = await send(tg, jane, "plot.pdf", b"%PDF-1.4", "❌", caption="/attach 1")
    assert refused["text"] == "❌ Only managers can attach documents to events."
    card = await said(tg, jane, "/docs 1", "❌")
    assert card["text"] == "❌ Only managers can see an event's documents."
    forged = await forge_press(tg, jane, AttachTo(1).pack())
    assert "Only managers" in (await tg.wait_for_callback_answer(forged))["text"]
    refused = await send(tg, boss, "plot.pdf", b"%PDF-1.4", "❌", caption="/attach 9")
    assert "There is no event #9." in refused["text"]
    usage = await send(tg, boss, "plot.pdf", b"%PDF-1.4", "/attach 12", caption="/attach")
    assert "the event's number" in usage["text"]
    await said(tg, boss, "/attach 1", "send it with the caption")
    assert await EventDocument.all().count() == 0 and kept(files) == []


async def test_a_statement_still_goes_to_the_reconciler_unless_attached(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, _, _, _ = await confirmed_event(tg, people)
    statement = as_csv(
        datetime(2026, 11, 1),
        datetime(2026, 11, 30, 23, 59, 59),
        [Line("TKE9999999", datetime(2026, 11, 20, 18, 0), TRANSFER, withdrawn=Decimal(1000))],
        Decimal("10000.00"),
    )
    await send(tg, boss, "statement.csv", statement, "M-Pesa statement #1")
    assert await EventDocument.all().count() == 0
    # The same file captioned /attach is the event's, not a statement.
    await send(tg, boss, "statement.csv", statement, "Attached", caption="/attach 1")
    assert (await EventDocument.get(id=1)).mime_type == "text/csv"


async def test_the_sandbox_sends_a_known_file_id_and_refuses_an_unknown_one(
    tg: TelegramSandbox,
) -> None:
    user = tg.user(77, "Jane")
    sent = await tg.send_document(user, "plot.pdf", b"%PDF-1.4")
    known = sent["document"]["file_id"]
    async with httpx.AsyncClient(base_url=f"{tg.base_url}{BOT_TOKEN}/") as http:
        ok = await http.post("sendDocument", json={"chat_id": 77, "document": known})
        bad = await http.post("sendDocument", json={"chat_id": 77, "document": "BQACAgIAAxkDAAI9"})
        photo = await http.post("sendPhoto", json={"chat_id": 77, "photo": "AgACAgIAAxkDAAI9"})
    assert ok.json()["result"]["document"]["file_id"] == known
    assert bad.status_code == 400 and "wrong file identifier" in bad.json()["description"]
    assert (
        photo.status_code == 400 and "wrong remote file identifier" in photo.json()["description"]
    )


async def test_copies_are_named_by_content_written_whole_and_files_dir_has_a_default(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path / "files")
    first = await store.put(b"%PDF-1.4 plot")
    assert await store.put(b"%PDF-1.4 plot") == first == digest(b"%PDF-1.4 plot")
    assert kept(tmp_path / "files") == [first]  # one copy, and no temporary file left
    assert await store.read(first) == b"%PDF-1.4 plot"
    await store.delete(first)
    assert kept(tmp_path / "files") == []
    assert make_settings(database_url="sqlite://data/x.sqlite3").files_path == Path("data/files")
    assert make_settings(database_url="postgres://db/callsheet").files_path == Path("files")
    assert make_settings(files_dir="/srv/files").files_path == Path("/srv/files")


async def gigs(count: int) -> tuple[Person, list[Event]]:
    """A manager and `count` events of theirs, for the service-level tests below."""
    boss = await Person.create(
        **stamp(Person, START), name="Achieng", phone="+254700000001", access=Access.MANAGER
    )
    events = [
        await Event.create(
            **stamp(Event, START),
            title=f"Gig {n}",
            venue="KICC",
            starts_at=START + timedelta(days=3),
            ends_at=START + timedelta(days=3, hours=4),
            call_at=START + timedelta(days=3),
            manager=boss,
        )
        for n in range(count)
    ]
    return boss, events


async def test_removals_and_attaches_of_one_file_at_once_keep_the_copy_exactly_while_used(
    database: str, clock: ManualClock, tmp_path: Path
) -> None:
    service = EventDocuments(FileStore(tmp_path / "files"), clock, ZoneInfo("Africa/Nairobi"))
    boss, events = await gigs(3)
    plot = b"%PDF-1.4 the same stage plot"
    offer = Offered(FileKind.DOCUMENT, "BQACAgIAAxkDAAI00000001", "plot.pdf", len(plot))

    async def attach(event: Event) -> EventDocument:
        done = await service.attach(event.id, offer, plot, actor=boss, chat_id=None)
        return done.document

    first, second = [await attach(e) for e in events[:2]]
    # Two removals at once (PostgreSQL: each locks the file's rows in one order): the copy
    # goes with the last.
    await asyncio.gather(*(service.remove(d.id, actor=boss, chat_id=None) for d in (first, second)))
    assert kept(tmp_path / "files") == [] and await EventDocument.all().count() == 0

    # A removal and an attach of the same file at once: the copy stays, as a row names it.
    first = await attach(events[0])
    await asyncio.gather(service.remove(first.id, actor=boss, chat_id=None), attach(events[2]))
    assert [d.event_id for d in await EventDocument.all()] == [events[2].id]  # type: ignore[attr-defined]
    assert kept(tmp_path / "files") == [digest(plot)]
    # The same file sent to one event twice at once is one document.
    both = await asyncio.gather(attach(events[1]), attach(events[1]))
    assert both[0].id == both[1].id and await EventDocument.all().count() == 2


class HeldStore(FileStore):
    """A store whose next write waits until released: an attach stopped inside its transaction."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writing = asyncio.Event()
        self.release = asyncio.Event()

    async def put(self, content: bytes) -> str:
        self.writing.set()
        await self.release.wait()
        return await super().put(content)


async def waiting_for_a_lock() -> None:
    """Until another connection waits on a lock (PostgreSQL). SQLite's writers queue on one
    connection in this process, so a turn of the loop is enough to have the removal queued."""
    conn = connections.get("default")
    if conn.capabilities.dialect != "postgres":
        await asyncio.sleep(0)
        return
    query = (
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    while (await conn.execute_query_dict(query))[0]["n"] == 0:  # noqa: ASYNC110 - in the server
        await asyncio.sleep(0.01)


async def test_a_removal_waiting_on_an_attach_of_the_same_file_keeps_the_copy(
    database: str, clock: ManualClock, tmp_path: Path
) -> None:
    # The order that lost a copy on PostgreSQL: the attach holds the file first, the removal
    # waits, the attach's new row commits; the removal must see that row and keep the copy.
    store = HeldStore(tmp_path / "files")
    service = EventDocuments(store, clock, ZoneInfo("Africa/Nairobi"))
    boss, events = await gigs(2)
    plot = b"%PDF-1.4 the stage plot"
    offer = Offered(FileKind.DOCUMENT, "BQACAgIAAxkDAAI00000002", "plot.pdf", len(plot))
    store.release.set()
    first = (await service.attach(events[0].id, offer, plot, actor=boss, chat_id=None)).document
    store.release.clear()
    store.writing.clear()

    attaching = asyncio.create_task(
        service.attach(events[1].id, offer, plot, actor=boss, chat_id=None)
    )
    await store.writing.wait()  # inside the attach's transaction, the copy held
    removing = asyncio.create_task(service.remove(first.id, actor=boss, chat_id=None))
    await waiting_for_a_lock()
    store.release.set()
    second = (await attaching).document
    await removing

    assert [d.id for d in await EventDocument.all()] == [second.id]
    assert kept(tmp_path / "files") == [digest(plot)]
    assert await store.read(second.sha256) == plot
