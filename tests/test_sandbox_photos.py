"""The Telegram stand-in's sendPhoto refuses what Telegram refuses: over 10 MB, width and
height over 10,000 together or a ratio over 20, and a file that is not an image."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from telegram import Bot, InputFile
from telegram.error import BadRequest

from sandbox.telegram import SandboxUser, TelegramSandbox

TOKEN = "123456:PHOTOphotoPHOTOphotoPHOTOphoto00"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with TelegramSandbox() as sandbox:
        sandbox.add_bot(TOKEN, "callsheet_bot")
        yield sandbox


@pytest.fixture
async def bot(tg: TelegramSandbox) -> AsyncIterator[Bot]:
    ptb_bot = Bot(TOKEN, base_url=tg.base_url)
    await ptb_bot.initialize()
    yield ptb_bot
    await ptb_bot.shutdown()


@pytest.fixture
async def jane(tg: TelegramSandbox) -> SandboxUser:
    user = tg.user(1001, "Jane", "Wanjiku")
    await tg.send_text(user, "/start")
    return user


async def test_a_photo_upload_is_kept_whole_with_its_size(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser
) -> None:
    content = png(300, 200)
    sent = await bot.send_photo(jane.id, InputFile(content, filename="chart.png"), caption="Nov")
    assert sent.photo and (sent.photo[-1].width, sent.photo[-1].height) == (300, 200)
    assert sent.caption == "Nov"
    assert tg.files[sent.photo[-1].file_id].content == content
    again = await bot.send_photo(jane.id, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    assert tg.transcript()[-2] == "[bot → Jane] 🖼 photo 300×200 — Nov"
    # A big one is shown scaled, as Telegram keeps it, but stored as sent.
    wide = await bot.send_photo(jane.id, InputFile(png(5000, 1000), filename="wide.png"))
    assert (wide.photo[-1].width, wide.photo[-1].height) == (2560, 512)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"%PDF-1.4 not an image", "Image_process_failed"),
        (png(300, 200)[:-40], "Image_process_failed"),  # cut short
        (png(6000, 4001), "Photo_invalid_dimensions"),  # 10,001 together
        (png(2100, 100), "Photo_invalid_dimensions"),  # a ratio of 21
        (b"\x89PNG" + bytes(10 * 1024 * 1024), "Photo_save_file_invalid"),  # over 10 MB
    ],
)
async def test_what_telegram_refuses_as_a_photo_is_refused(
    tg: TelegramSandbox, bot: Bot, jane: SandboxUser, content: bytes, error: str
) -> None:
    with pytest.raises(BadRequest, match=error):
        await bot.send_photo(jane.id, InputFile(content, filename="x.png"))
    assert not any("photo" in m for m in tg.bot_messages(jane.id))


async def test_no_photo_or_an_unknown_id_is_refused(bot: Bot, jane: SandboxUser) -> None:
    with pytest.raises(BadRequest, match="Wrong remote file identifier"):
        await bot.send_photo(jane.id, "no-such-file")
    # The same chart at 6000 × 4000 is fine as a photo at the limit (10,000 together).
    await bot.send_photo(jane.id, InputFile(png(6000, 4000), filename="big.png"))
