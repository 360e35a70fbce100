"""sendPhoto, with the limits Telegram puts on a photo (core.telegram.org/bots/api#sendphoto):
at most 10 MB, width and height at most 10,000 together, a ratio of at most 20, and an image
it can read. What it refuses, a bot must send as a document instead."""

from __future__ import annotations

import copy
import io

from PIL import Image, UnidentifiedImageError

from ._checks import _Checks
from ._params import CAPTION_LIMIT, Files, _param_str
from ._records import JSON, bad_request
from ._state import _Bot

PHOTO_LIMIT = 10 * 1024 * 1024
PHOTO_SIDES_LIMIT = 10_000  # width + height
PHOTO_RATIO_LIMIT = 20
PHOTO_SHOWN_MAX = 2560  # Telegram keeps a photo's largest size at most this wide or high


def photo_size(content: bytes) -> tuple[int, int]:
    """The width and height of an image Telegram would take as a photo, or its refusal."""
    if len(content) > PHOTO_LIMIT:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")
    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise bad_request("IMAGE_PROCESS_FAILED") from None
    if width + height > PHOTO_SIDES_LIMIT or max(width, height) > PHOTO_RATIO_LIMIT * min(
        width, height
    ):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return width, height


class _PhotoMethods(_Checks):
    async def _send_photo(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        chat = self._chat_to_send(bot, params)
        photo = self._photo(params, files)
        caption, entities = self._formatted(
            params, "caption", "caption_entities", CAPTION_LIMIT, optional=True
        )
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._throttle(bot, chat)
        content: JSON = {"photo": photo}
        if caption:
            content["caption"] = caption
        message = self._bot_message(bot, chat, content, entities, "caption_entities", markup)
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(reply_to)
        size = photo[-1]
        shown = f"🖼 photo {size['width']}×{size['height']}" + (f" — {caption}" if caption else "")
        self._say(f"[{self._name(bot)} → {chat.user.first_name}] {shown}")
        return copy.deepcopy(message)

    def _photo(self, params: JSON, files: Files) -> list[JSON]:
        """The message's `photo`: its sizes, largest last. An upload is kept whole, so a
        test reads back exactly the bytes the bot sent; a file_id sends a stored photo again."""
        upload = files.get("photo")
        reference = _param_str(params, "photo")
        if upload is None and reference and reference.startswith("attach://"):
            upload = files.get(reference.removeprefix("attach://"))
        if upload is not None:
            content = upload.file.read()
            if not content:
                raise bad_request("file must be non-empty")
            width, height = photo_size(content)
            stored = self._store_file(upload.filename, upload.content_type, content)
        elif reference and reference in self.files:
            stored = self.files[reference]
            if stored.content is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            width, height = photo_size(stored.content)
        elif reference:
            raise bad_request("wrong remote file identifier specified: can't unserialize it")
        else:
            raise bad_request("there is no photo in the request")
        scale = min(1.0, PHOTO_SHOWN_MAX / max(width, height))
        return [
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": round(width * scale),
                "height": round(height * scale),
                "file_size": len(stored.content or b""),
            }
        ]
