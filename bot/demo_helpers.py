"""The demo's small helpers: the stage plot it attaches, the link in a bot message, the
emails it prints at the end, a free port."""

from __future__ import annotations

import email
import socket
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from fpdf import FPDF, XPos, YPos


def stage_plot_pdf(title: str) -> bytes:
    """A one-page stage plot, as a manager would attach to an event."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.cell(0, 12, f"Stage plot: {title}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", size=12)
    for line in ("Drum riser upstage centre", "FOH 25 m from the stage", "Power: stage left"):
        pdf.cell(0, 8, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.rect(40, 80, 130, 60)
    return bytes(pdf.output())


def link_in(message: dict[str, Any] | None) -> str:
    assert message is not None
    return next(str(w) for w in message["text"].split() if w.startswith("https://t.me/"))


def print_emails(folder: Path) -> None:
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    print(f"\n=== Emails sent ({len(files)}) " + "=" * 50)
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        print(f"To: {message['To']}\nSubject: {message['Subject']}")
        if body is not None:
            print("    " + str(body.get_content()).strip().replace("\n", "\n    "))
        for item in message.iter_attachments():
            print(f"    📎 {item.get_filename()} ({len(item.get_content())} bytes)")
        print()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
