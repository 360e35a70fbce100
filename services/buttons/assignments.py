"""Buttons on invitations, nudges, briefings, /my and the crew picker (`asg:`), and the
keyboards services put on the messages they queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from models import Assignment
from services.buttons._base import TELEGRAM_LIMIT, CallbackData
from services.notifications import Button, Keyboard

AREA = "asg"


class Reply(StrEnum):
    YES = "yes"  # Confirm
    NO = "no"  # Decline


class Origin(StrEnum):
    INVITATION = ""  # the invitation, a nudge: the data ends after the id
    MY = "my"  # a line of /my, which is redrawn after the answer


class Forced(StrEnum):
    NO = "n"
    YES = "f"  # the manager said "Assign anyway" to an overlap


# --- crew side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerPress(CallbackData, prefix=AREA):
    """Confirm or Decline: `asg:yes:12`, or `asg:yes:12:my:3` from page 3 of /my."""

    reply: Reply
    assignment_id: int
    origin: str = Origin.INVITATION.value
    page: int = 0

    @property
    def from_my(self) -> bool:
        return self.origin == Origin.MY.value


@dataclass(frozen=True)
class ChangeAnswer(CallbackData, prefix=AREA, action="change"):
    assignment_id: int


@dataclass(frozen=True)
class SkipReason(CallbackData, prefix=AREA, action="skip"):
    assignment_id: int


@dataclass(frozen=True)
class BriefingRead(CallbackData, prefix=AREA, action="read"):
    assignment_id: int


@dataclass(frozen=True)
class Noop(CallbackData, prefix=AREA, action="noop"):
    """A button that only shows a state ("✅ Read")."""

    unused: int = 0  # old messages carry "asg:noop:0"


@dataclass(frozen=True)
class MyPageTurn(CallbackData, prefix=AREA, action="my"):
    page: int


# --- manager side: the crew picker ----------------------------------------------------------


@dataclass(frozen=True)
class PickPerson(CallbackData, prefix=AREA, action="pick"):
    event_id: int
    person_id: int


@dataclass(frozen=True)
class PickPersonAnyway(CallbackData, prefix=AREA, action="pickf"):
    """The picked person overlaps another event and the manager chose them anyway."""

    event_id: int
    person_id: int


@dataclass(frozen=True)
class PickRole(CallbackData, prefix=AREA, action="role"):
    event_id: int
    person_id: int
    index: int  # into the person's skills
    forced: Forced


@dataclass(frozen=True)
class AssignAnyway(CallbackData, prefix=AREA, action="force"):
    """From an inline /assign that hit an overlap: the role is typed, so it rides along."""

    event_id: int
    person_id: int
    role: str

    @classmethod
    def fitting(cls, event_id: int, person_id: int, role: str) -> AssignAnyway:
        """A long role is cut to what Telegram carries (the picker's buttons always were)."""
        budget = TELEGRAM_LIMIT - len(cls(event_id, person_id, "-").pack().encode()) + 1
        return cls(event_id, person_id, role.encode()[:budget].decode(errors="ignore"))


# --- keyboards on queued messages -----------------------------------------------------------


def answer_buttons(assignment_id: int) -> Keyboard:
    return [
        [
            Button("✅ Confirm", AnswerPress(Reply.YES, assignment_id).pack()),
            Button("❌ Decline", AnswerPress(Reply.NO, assignment_id).pack()),
        ]
    ]


def answer_many_buttons(waiting: Sequence[Assignment]) -> Keyboard:
    """A nudge listing several invitations: one Confirm / Decline pair each."""
    return [
        [
            Button(f"✅ #{a.event.id} {a.event.title}"[:40], AnswerPress(Reply.YES, a.id).pack()),
            Button(f"❌ #{a.event.id}", AnswerPress(Reply.NO, a.id).pack()),
        ]
        for a in waiting
    ]


def change_button(assignment_id: int) -> Keyboard:
    return [[Button("Change my answer", ChangeAnswer(assignment_id).pack())]]


def read_button(assignment_id: int) -> Keyboard:
    return [[Button("✅ I've read it", BriefingRead(assignment_id).pack())]]
