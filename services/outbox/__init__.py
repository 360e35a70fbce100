"""The outbox: every message to a person is a row, delivered by a dispatcher per channel.

queue.py       Outbox: claiming rows with a lease, recording outcomes
dispatcher.py  Dispatcher: the delivery loop of one channel, and the sender protocols
service.py     OutboxService: unreachable chats, failure lists, resending, history
errors.py      what senders raise, and the refusals to managers
"""

from services.outbox.dispatcher import UNKNOWN_OUTCOMES_LIMIT, ChatSender, Dispatcher, EmailSender
from services.outbox.errors import (
    ChatUnreachable,
    DeliveryError,
    MessageGone,
    NothingToResend,
    OutboxError,
    OutcomeUnknown,
    Permanent,
    RetryLater,
    Transient,
)
from services.outbox.queue import UNFINISHED, Outbox
from services.outbox.service import Delivery, OutboxService, Unreachable

__all__ = [
    "UNFINISHED",
    "UNKNOWN_OUTCOMES_LIMIT",
    "ChatSender",
    "ChatUnreachable",
    "Delivery",
    "DeliveryError",
    "Dispatcher",
    "EmailSender",
    "MessageGone",
    "NothingToResend",
    "Outbox",
    "OutboxError",
    "OutboxService",
    "OutcomeUnknown",
    "Permanent",
    "RetryLater",
    "Transient",
    "Unreachable",
]
