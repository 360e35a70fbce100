"""Scheduled messages (reminders, nudges, manager alerts), sent exactly once.

Jobs are rows written in the same transaction as the change that calls for them (an
assignment, an answer, an event's new time) and cancelled with it. A job is claimed with a
lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: a conditional UPDATE), and its message
is queued in the outbox in the transaction that marks it done, with a dedupe key: two
instances, or a restart between claim and send, never produce the message twice.

A job that fails is tried again after a backoff (its lease is stretched) and is parked as
FAILED, with its error, after `max_attempts`: one broken job never holds up the others.
"""

from services.scheduler._scheduler import JobLost, Scheduler, human_delta

__all__ = ["JobLost", "Scheduler", "human_delta"]
