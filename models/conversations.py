"""A chat's open guided conversation and its drafts, shared by every instance."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ConversationRow(Model):
    """One row per private chat with something to remember (the flow it is in, if any, and
    the chat's drafts: PTB's `user_data`), or with an update being handled. Written with a
    version check, so two instances never silently overwrite each other; gone after
    `expires_at`."""

    id = fields.BigIntField(primary_key=True)
    chat_id = fields.BigIntField()
    user_id = fields.BigIntField()
    flow = fields.CharField(max_length=40, null=True)  # the ConversationHandler's name
    state = fields.IntField(null=True)  # the flow's state (an IntEnum member's value)
    started_by = fields.CharField(max_length=60, null=True)  # "/newevent", "payment request"
    data = fields.BinaryField()  # the pickled drafts
    version = fields.IntField(default=1)
    # The instance handling one of this chat's updates right now, until when: the others wait.
    busy_by = fields.CharField(max_length=40, null=True)
    busy_until = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "conversation"
        unique_together = (("chat_id", "user_id"),)
