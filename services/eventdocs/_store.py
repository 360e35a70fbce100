"""The copies of event documents under FILES_DIR, each named by the SHA-256 of its bytes: the
same file sent twice, or to two events, is one copy. Written to a temporary name and renamed,
so a reader never sees half a file and a crash leaves only a temporary file behind."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 in hex")
        return self.root / sha256[:2] / sha256

    async def put(self, content: bytes) -> str:
        """Keep `content` (once); its SHA-256, which names it."""
        sha256 = digest(content)
        await asyncio.to_thread(self._write, self.path(sha256), content)
        return sha256

    async def read(self, sha256: str) -> bytes:
        return await asyncio.to_thread(self.path(sha256).read_bytes)

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path(sha256).unlink, missing_ok=True)

    @staticmethod
    def _write(target: Path, content: bytes) -> None:
        if target.exists() and target.stat().st_size == len(content):
            return  # the same bytes: the name is their hash
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)  # gone already once renamed
