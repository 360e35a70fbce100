"""File sizes as people read them."""

from __future__ import annotations


def human_size(size: int) -> str:
    """12 KB, 3.4 MB: Telegram's own rounding."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
