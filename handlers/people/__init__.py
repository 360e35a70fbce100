"""Managers' people commands, one registration per module:

form.py    the people conversation: the guided /addcrew form and typing a new value
add.py     /addcrew and /addmanager
edit.py    a card's Edit presses
roster.py  /crew and its pages
card.py    /person and the card's other presses (and the per: catch-all, last)
"""

from bot.context import CallsheetApplication
from handlers.people import card, form, roster
from handlers.people._views import render_card, render_roster

__all__ = ["register", "render_card", "render_roster"]


def register(application: CallsheetApplication) -> None:
    form.register(application)
    roster.register(application)
    card.register(application)
