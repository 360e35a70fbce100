"""Documents attached to an event: stage plots, riders, run sheets.

Each is kept twice: by Telegram's `file_id` (what chat sends again, without uploading) and as
a copy under FILES_DIR named by its SHA-256 (what email attaches). The same file on two events
is two rows and one copy; the copy is deleted with the last row that names it.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.enums import FileKind
from models.tables import Event, Person


class EventDocument(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="documents", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=255)  # as sent; a photo is named by when it came
    kind = fields.CharEnumField(FileKind, max_length=16)
    mime_type = fields.CharField(max_length=100)
    size = fields.IntField()  # bytes
    sha256 = fields.CharField(max_length=64)  # the copy's name under FILES_DIR
    telegram_file_id = fields.CharField(max_length=255)
    added_by: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="documents_added", on_delete=fields.RESTRICT
    )
    added_at = fields.DatetimeField()

    class Meta:
        table = "event_document"
        unique_together = (("event_id", "sha256"),)  # the same file twice is one document
