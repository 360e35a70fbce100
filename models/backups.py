"""Needs per role, and the spots offered to backups when someone declines or does not answer."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.enums import SpotStatus
from models.tables import Assignment, Event


class EventNeed(Model):
    """How many of one role an event needs (`rigger 3`). Without any: `crew_target`, any role."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="needs", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=60)
    count = fields.IntField()

    class Meta:
        table = "event_need"
        unique_together = (("event", "role"),)


class BackupSpot(Model):
    """One place to fill. Its row is locked (PostgreSQL) or conditionally updated (SQLite)
    by whoever confirms for it: the first to confirm fills it, once."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="backup_spots", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=60)
    # The invitation that left it: declined, or unanswered by its deadline (it may still
    # confirm, and then it takes the spot like any offer).
    source: fields.ForeignKeyRelation[Assignment] = fields.ForeignKeyField(
        "models.Assignment", related_name="spots_left", on_delete=fields.CASCADE
    )
    unanswered = fields.BooleanField(default=False)  # opened by the deadline, not a decline
    status = fields.CharEnumField(SpotStatus, max_length=16, default=SpotStatus.OPEN)
    filled_by: fields.ForeignKeyNullableRelation[Assignment] = fields.ForeignKeyField(
        "models.Assignment", related_name="spots_filled", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "backup_spot"
        indexes = (("event_id", "status"),)


class BackupOffer(Model):
    """A spot offered to one person: their invitation (an Assignment) and its deadline."""

    id = fields.IntField(primary_key=True)
    spot: fields.ForeignKeyRelation[BackupSpot] = fields.ForeignKeyField(
        "models.BackupSpot", related_name="offers", on_delete=fields.CASCADE
    )
    assignment: fields.OneToOneRelation[Assignment] = fields.OneToOneField(
        "models.Assignment", related_name="offer", on_delete=fields.CASCADE
    )
    until = fields.DatetimeField(null=True)  # the next person is asked too after this
    created_at = fields.DatetimeField()

    class Meta:
        table = "backup_offer"
