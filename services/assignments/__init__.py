"""Assignments: inviting crew, their answers, reminders on demand, briefings, and `/my`.

What happens when crew press Confirm: `AssignmentService.respond` in `_answer.py`.

    _errors.py   AssignmentError → AlreadyAssigned, Overlap, PersonOff, AnswerRefused, TooLong
    _model.py    answers, candidates, the parts of /my
    _invite.py   the picker's candidates, /assign, inviting again
    _answer.py   Confirm / Decline, "Change my answer", the reason for a decline
    _backups.py  a declined or unanswered spot offered to the next free person: `is_free`
    _tally.py    what the manager is told: the live answers tally, answer emails or digest
    _service.py  AssignmentService: /my, reminders on demand, briefings
"""

from services.assignments._answer import clean_reason
from services.assignments._backups import is_free
from services.assignments._errors import (
    AlreadyAssigned,
    AnswerRefused,
    AssignmentError,
    Overlap,
    PersonOff,
    TooLong,
)
from services.assignments._model import (
    ASSIGN_FORMAT,
    REINVITABLE,
    Answer,
    AnswerEmails,
    Candidate,
    MyPage,
    MySection,
    Response,
)
from services.assignments._service import AssignmentService

__all__ = [
    "ASSIGN_FORMAT",
    "REINVITABLE",
    "AlreadyAssigned",
    "Answer",
    "AnswerEmails",
    "AnswerRefused",
    "AssignmentError",
    "AssignmentService",
    "Candidate",
    "MyPage",
    "MySection",
    "Overlap",
    "PersonOff",
    "Response",
    "TooLong",
    "clean_reason",
    "is_free",
]
