"""The roster's pages stay within Telegram's message limit whatever people typed."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from handlers.people import render_roster
from handlers.shared import plural
from models import Access, Person
from services.notifications import Renderer
from tests.conftest import START

RENDERER = Renderer(ZoneInfo("Africa/Nairobi"), "Sauti Sound", "https://t.me/x")


def render(template: str, /, **values: Any) -> str:
    """What `handlers.shared.render` does with a handler's context."""
    return RENDERER.reply(template, {"now": START, "plural": plural, **values})


def person(n: int) -> Person:
    return Person(
        id=n,
        name=f"{'W' * 90} & {n:03d}",
        phone=f"+2547110{n:05d}",
        skills=",".join(f"r&d <role> {i:02d} " + "x" * 20 for i in range(15)),
        access=Access.CREW,
        balance=1_500_000,
    )


def test_every_page_fits_and_every_person_is_on_exactly_one_page() -> None:
    people = [person(n) for n in range(95)]
    seen: list[str] = []
    page = 0
    while True:
        text, markup = render_roster(render, people, "r&d", page)
        assert len(text) <= 4096
        assert markup is not None
        buttons = [b for row in markup.inline_keyboard for b in row]
        seen += [
            str(b.callback_data) for b in buttons if str(b.callback_data).startswith("per:card:")
        ]
        assert all(len(str(b.callback_data).encode()) <= 64 for b in buttons)
        if not any(b.text == "Next »" for b in buttons):
            break
        page += 1
    assert seen == [f"per:card:{n}" for n in range(95)]
    assert "KES 1,500,000" in text and "page 10 of 10" in text
