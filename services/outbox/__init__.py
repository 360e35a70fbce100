"""The outbox: every message to a person is a row, delivered by a dispatcher per channel.

queue.py       Outbox: claiming rows with a lease, recording outcomes
dispatcher.py  Dispatcher: the delivery loop of one channel, and the sender protocols
service.py     OutboxService: unreachable chats, failure lists, resending, history
errors.py      what senders raise, and the refusals to managers
budget.py      SharedBudget: Telegram's rate shared by every instance through PostgreSQL
"""

from services.outbox.budget import BOT_RATE, CHAT_RATE, Rate, SharedBudget
from services.outbox.dispatcher import (
    UNKNOWN_OUTCOMES_LIMIT,
    Attachment,
    AttachmentSource,
    BriefingFiles,
    ChatSender,
    Dispatcher,
    EmailSender,
    FileSender,
)
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
    "BOT_RATE",
    "CHAT_RATE",
    "UNFINISHED",
    "UNKNOWN_OUTCOMES_LIMIT",
    "Attachment",
    "AttachmentSource",
    "BriefingFiles",
    "ChatSender",
    "ChatUnreachable",
    "Delivery",
    "DeliveryError",
    "Dispatcher",
    "EmailSender",
    "FileSender",
    "MessageGone",
    "NothingToResend",
    "Outbox",
    "OutboxError",
    "OutboxService",
    "OutcomeUnknown",
    "Permanent",
    "Rate",
    "RetryLater",
    "SharedBudget",
    "Transient",
    "Unreachable",
]
