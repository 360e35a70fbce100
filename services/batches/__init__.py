"""Asking an event's confirmed crew for one amount each: the event card's Request payment.

Nothing is pushed while the manager waits. `start` writes the batch and one QUEUED member per
person, with the summary message, in one transaction; the sender loop then claims members
one at a time and pushes each through the same path as /request. A claim, the payment row
(initiated) and the member's new status are one transaction, and the push happens only after
it commits, so:
- a process that dies before the commit leaves the member QUEUED: the next sender (after a
  restart, or another instance) asks them, once;
- a process that dies after it leaves an initiated payment: never pushed again, it becomes
  unknown after the query delay like any interrupted /request;
- two instances never claim the same member (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite:
  a conditional UPDATE, with writers serialised).
"""

from services.batches._drafts import (
    BatchDraft,
    BatchError,
    Candidate,
    Details,
    InvalidDetails,
    NobodyToAsk,
    details,
    parse_details,
)
from services.batches._service import BatchService

__all__ = [
    "BatchDraft",
    "BatchError",
    "BatchService",
    "Candidate",
    "Details",
    "InvalidDetails",
    "NobodyToAsk",
    "details",
    "parse_details",
]
