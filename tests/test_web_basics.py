"""The web side's ground rules: headers on every answer, static files, and who gets in."""

from __future__ import annotations

from datetime import timedelta

import httpx

from bot.app import Callsheet
from tests.conftest import People
from tests.web_helpers import base_url, web_client


async def test_the_shell_carries_no_data_and_every_safety_header(app: Callsheet) -> None:
    async with httpx.AsyncClient(base_url=base_url(app)) as client:
        page = await client.get("/app/")
        assert page.status_code == 200
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-store"
        assert "<script>" not in page.text  # only <script src=…>: the CSP allows no other
        assert "Sauti Sound" in page.text
        script = page.text.split('<script src="', 1)[1].split('"', 1)[0]
        js = await client.get(script)
        assert js.status_code == 200
        assert "javascript" in js.headers["Content-Type"]
        assert "immutable" in js.headers["Cache-Control"]
        assert js.headers["X-Content-Type-Options"] == "nosniff"
        assert (await client.get("/app", follow_redirects=False)).headers["Location"] == "/app/"


async def test_without_telegrams_initdata_nothing_is_shown(app: Callsheet, people: People) -> None:
    await people.add("Wanjiku Kamau", "0712000001", manager=True)
    async with web_client(app) as client:
        answer = await client.get("/app/view/home")
    assert answer.status_code == 401
    assert "Open this from the bot's menu in Telegram" in answer.text
    assert "Wanjiku" not in answer.text
    assert answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"


async def test_a_linked_person_is_known_and_a_stale_or_stranger_login_is_not(
    app: Callsheet, people: People
) -> None:
    boss, user = await people.add("Wanjiku Kamau", "0712000001", manager=True)
    async with web_client(app, user.id) as client:
        answer = await client.get("/app/view/home")
    assert answer.status_code == 200, answer.text
    assert "Wanjiku Kamau" in answer.text
    assert app.services is not None
    old = app.services.clock.now() - timedelta(hours=25)
    async with web_client(app, user.id, auth_date=old) as client:
        stale = await client.get("/app/view/home")
    assert stale.status_code == 401
    assert "more than a day old" in stale.text
    async with web_client(app, 999_999) as client:
        stranger = await client.get("/app/view/home")
    assert stranger.status_code == 401
    assert "not linked to anyone" in stranger.text
    boss.active = False
    await boss.save(update_fields=["active"])
    async with web_client(app, user.id) as client:
        gone = await client.get("/app/view/home")
    assert gone.status_code == 401
