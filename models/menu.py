"""Which chats have the Mini App as their menu button, so start-up sets only the missing."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class MenuButton(Model):
    """The menu button last set (or refused) in one person's chat: set again only when the
    URL, its text (their role's) or their Telegram account changes."""

    id = fields.IntField(primary_key=True)
    person: fields.OneToOneRelation[Any] = fields.OneToOneField(
        "models.Person", related_name="menu_button", on_delete=fields.CASCADE
    )
    telegram_id = fields.BigIntField()  # the chat it was set in
    url = fields.CharField(max_length=300)
    text = fields.CharField(max_length=64)
    error = fields.CharField(max_length=300, null=True)  # Telegram refused it: why
    updated_at = fields.DatetimeField()

    class Meta:
        table = "menu_button"
