"""What the event services take and give: the form's draft, counts, the card, an edit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from models import (
    Assignment,
    AssignmentStatus,
    Briefing,
    Event,
)
from services.events._errors import InvalidEvent


class EditField(StrEnum):
    TITLE = "title"
    START = "start"
    END = "end"
    CALL = "call"
    VENUE = "venue"
    NOTES = "notes"
    CREW = "crew"  # how many crew the event needs: "crew 6" in /newevent too


FIELD_LABELS = {
    EditField.TITLE: "Title",
    EditField.START: "Start",
    EditField.END: "End",
    EditField.CALL: "Call time",
    EditField.VENUE: "Venue",
    EditField.NOTES: "Notes",
    EditField.CREW: "Crew",
}
# Older words still understood, so nobody's habit breaks ("target" was the crew number).
FIELD_ALIASES = {"target": EditField.CREW, "call time": EditField.CALL}


def parse_field(text: str) -> EditField:
    word = " ".join(text.split()).lower()
    if word in FIELD_ALIASES:
        return FIELD_ALIASES[word]
    try:
        return EditField(word)
    except ValueError:
        names = ", ".join(f.value for f in EditField)
        raise InvalidEvent(
            f"“{text.strip()}” is not something I can change. Fields: {names}."
        ) from None


INLINE_FORMAT = "/newevent Title | 2026-12-05 18:00 | 23:00 | Venue | call 15:00 | notes | crew 6"


@dataclass
class EventDraft:
    title: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: str = ""
    call_at: datetime | None = None
    notes: str = ""
    crew_target: int | None = None
    needs: tuple[tuple[str, int], ...] = ()  # per role; crew_target is then their sum


@dataclass(frozen=True)
class Needs:
    """What an event needs: a number of crew in any role, or a number per role."""

    total: int | None
    roles: tuple[tuple[str, int], ...] = ()

    def __str__(self) -> str:
        if self.roles:
            return ", ".join(f"{role} {count}" for role, count in self.roles)
        return str(self.total) if self.total else "not set"


@dataclass(frozen=True)
class RoleNeed:
    """One role's line on the card: how many are confirmed of how many needed."""

    role: str
    filled: int
    needed: int


@dataclass(frozen=True)
class Counts:
    confirmed: int
    invited: int
    declined: int
    target: int | None

    @property
    def needed(self) -> int:
        return max(0, (self.target or 0) - self.confirmed)


@dataclass(frozen=True)
class EventSummary:
    event: Event
    counts: Counts


@dataclass
class EventCard:
    event: Event
    counts: Counts
    by_status: dict[AssignmentStatus, list[Assignment]] = field(default_factory=dict)
    briefing: Briefing | None = None
    needs: list[RoleNeed] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class Edited:
    """What an edit changed, and how many crew are being told (confirmed, not answered)."""

    changes: list[Change]
    confirmed_told: int = 0
    invited_told: int = 0


def _short(text: str, limit: int = 80) -> str:
    """A long value (the notes) quoted in a change line: its start only."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def counts_from(tally: Mapping[AssignmentStatus, int], target: int | None) -> Counts:
    confirmed = tally.get(AssignmentStatus.CONFIRMED, 0) + tally.get(AssignmentStatus.COMPLETED, 0)
    return Counts(
        confirmed,
        tally.get(AssignmentStatus.INVITED, 0),
        tally.get(AssignmentStatus.DECLINED, 0),
        target,
    )


def counts_of(assignments: list[Assignment], target: int | None) -> Counts:
    return counts_from(Counter(a.status for a in assignments), target)
