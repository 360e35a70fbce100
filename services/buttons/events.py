"""Buttons on an event: the /newevent form, the event list, the card and its actions (`evt:`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.buttons._base import CallbackData
from services.notifications import Button, Keyboard

AREA = "evt"


# --- the forms (/newevent, a value typed after a button) ------------------------------------


@dataclass(frozen=True)
class StopForm(CallbackData, prefix=AREA, action="stop"):
    unused: int = 0  # old messages carry "evt:stop:0"


@dataclass(frozen=True)
class SkipStep(CallbackData, prefix=AREA, action="skip"):
    unused: int = 0  # old messages carry "evt:skip:0"


# --- lists and the card ---------------------------------------------------------------------


@dataclass(frozen=True)
class EventsPage(CallbackData, prefix=AREA, action="list"):
    page: int


@dataclass(frozen=True)
class OpenCard(CallbackData, prefix=AREA, action="card"):
    event_id: int


@dataclass(frozen=True)
class ShowHistory(CallbackData, prefix=AREA, action="history"):
    event_id: int


@dataclass(frozen=True)
class AssignCrew(CallbackData, prefix=AREA, action="assign"):
    """Opens the crew picker (handlers/assignments)."""

    event_id: int


@dataclass(frozen=True)
class RemindCrew(CallbackData, prefix=AREA, action="remind"):
    event_id: int


@dataclass(frozen=True)
class BriefCrew(CallbackData, prefix=AREA, action="brief"):
    event_id: int


@dataclass(frozen=True)
class AttachTo(CallbackData, prefix=AREA, action="attach"):
    """The next document or photo the manager sends goes to this event (handlers/eventdocs)."""

    event_id: int


@dataclass(frozen=True)
class RemoveDocument(CallbackData, prefix=AREA, action="docrm"):
    document_id: int


@dataclass(frozen=True)
class EditEvent(CallbackData, prefix=AREA, action="edit"):
    event_id: int


@dataclass(frozen=True)
class EditFieldPress(CallbackData, prefix=AREA, action="ef"):
    event_id: int
    field: str  # an EditField's value; old messages may still say "target"


@dataclass(frozen=True)
class CompleteEvent(CallbackData, prefix=AREA, action="complete"):
    event_id: int


@dataclass(frozen=True)
class CancelEvent(CallbackData, prefix=AREA, action="cancel"):
    """Asks "Cancel event #12?"; nothing changes until `CancelConfirmed`."""

    event_id: int


@dataclass(frozen=True)
class CancelConfirmed(CallbackData, prefix=AREA, action="cancelok"):
    event_id: int


class Turn(StrEnum):
    ON = "on"
    OFF = "off"


@dataclass(frozen=True)
class AutoBackups(CallbackData, prefix=AREA, action="backups"):
    """The card's "Auto backups: on/off": turns them to `turn`."""

    event_id: int
    turn: Turn


def card_button(event_id: int, text: str = "Open the event") -> Keyboard:
    """On a message that a manager acts on from the event's card."""
    return [[Button(text, OpenCard(event_id).pack())]]
