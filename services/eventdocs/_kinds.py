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


# What a file of each kept type starts with: a name alone is not trusted.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
OFFICE = "application/vnd.openxmlformats-officedocument."
LABEL = {
    "application/pdf": "a PDF",
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "image/webp": "a WebP image",
    "text/plain": "text",
    "text/csv": "text",
}


def check_content(name: str, mime: str, content: bytes) -> None:
    """Refuse a file whose bytes are not what its name says (a program renamed .pdf)."""
    if mime.startswith(OFFICE):
        fits = content.startswith(b"PK\x03\x04")  # docx, xlsx and pptx are zip files
    elif mime.startswith("text/"):
        fits = b"\x00" not in content[:65536]
    else:
        fits = content.startswith(MAGIC[mime]) and (
            mime != "image/webp" or content[8:12] == b"WEBP"
        )
    if not fits:
        what = LABEL.get(mime, "an Office file")
        raise FileRefused(f"{name} is not {what}, as its name says. Send {KEPT_TYPES}.")


def check_size(name: str, size: int | None) -> None:
    if size is not None and size > MAX_BYTES:
        raise FileRefused(
            f"{name} is {human_size(size)}; Telegram lets the bot fetch files of at most 20 MB. "
            "Make it smaller (a PDF export, a compressed photo) or split it, and send it again."
        )
