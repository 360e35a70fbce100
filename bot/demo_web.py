"""The demo's web part: the Mini App's URL for Achieng, the client's checkout link, and
screenshots of both taken by a headless Chromium when the machine has one."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# A mid-range Android phone's screen, in CSS pixels.
PHONE = (412, 915)


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
