"""What the assignment services take and give."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from models import (
    Assignment,
    AssignmentStatus,
    DayOff,
    Event,
    Person,
)

# How long after declining the next plain message someone sends is taken as the reason.
REASON_WINDOW = timedelta(hours=1)
REASON_LIMIT = 500
# Answers closer together than this update one live "answers" message; the first answer
# after a longer quiet starts a new one, so that the manager is notified again.
TALLY_QUIET = timedelta(minutes=30)
TALLY_LATEST = 5  # names shown under the counts, newest first


class AnswerEmails(StrEnum):
    """How a manager gets crew answers by email (ANSWER_EMAILS)."""

    EACH = "each"  # one email per answer, at once
    HOURLY = "hourly"  # one digest an hour; a drop-out still comes at once


class Answer(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"


# Who can be invited again to the same event: the row goes back to invited.
REINVITABLE = (AssignmentStatus.DECLINED, AssignmentStatus.CANCELLED)

ASSIGN_FORMAT = (
    "/assign <event id> | <person id or phone> | <role>, e.g. /assign 12 | 0712345678 | rigger"
)


@dataclass(frozen=True)
class Candidate:
    person: Person
    conflict: Event | None  # confirmed on this overlapping event
    status: AssignmentStatus | None  # already on this event
    off: DayOff | None = None  # marked a day of the event off (/off)


@dataclass(frozen=True)
class Response:
    assignment: Assignment
    event: Event
    previous: AssignmentStatus
    changed: bool


class MySection(StrEnum):
    """The parts of `/my`, in the order they are shown."""

    PENDING = "pending"  # waiting for the person's answer
    UPCOMING = "upcoming"  # confirmed, not over yet
    PAST = "past"
    DECLINED = "declined"


@dataclass
class MyPage:
    """One page of a person's assignments, each with its event loaded."""

    entries: list[tuple[MySection, Assignment]] = field(default_factory=list)
    page: int = 0
    pages: int = 0
