"""Which files an event keeps, and how big they may be."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from models import FileKind
from services.eventdocs._errors import FileRefused
from services.sizes import human_size

# Telegram hands a bot files of at most 20 MB (getFile); a bigger one never reaches us.
MAX_BYTES = 20 * 1024 * 1024

KEPT: dict[str, str] = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".txt": "text/plain",
    ".csv": "text/csv",
}
KEPT_TYPES = (
    "PDF, JPEG, PNG or WebP images, Word (.docx), Excel (.xlsx), PowerPoint (.pptx), text or CSV"
)


@dataclass(frozen=True)
class Offered:
    """A file as Telegram describes it, before the bot downloads it."""

    kind: FileKind
    file_id: str
    name: str | None  # a photo has none
    size: int | None  # Telegram usually gives it


def mime_of(offered: Offered) -> str:
    """The type the file is kept as, or the refusal that names what is kept."""
    if offered.kind is FileKind.PHOTO:
        return "image/jpeg"  # Telegram sends every photo as a JPEG
    name = offered.name or "the file"
    mime = KEPT.get(PurePath(name).suffix.lower())
    if mime is None:
        raise FileRefused(f"{name} is not a type we keep. Send {KEPT_TYPES}.")
    return mime


def check_size(name: str, size: int | None) -> None:
    if size is not None and size > MAX_BYTES:
        raise FileRefused(
            f"{name} is {human_size(size)}; Telegram lets the bot fetch files of at most 20 MB. "
            "Make it smaller (a PDF export, a compressed photo) or split it, and send it again."
        )
