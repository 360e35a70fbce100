"""Timestamps come from the caller's clock, never from the database or the wall clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.models import Model

# Columns every row of a table must be given when it is written.
STAMPED = ("created_at", "updated_at", "invited_at", "received_at", "at")


def stamp(model: type[Model], when: datetime) -> dict[str, Any]:
    """The timestamp columns `model` needs on insert, all set to `when`.

    For code that writes rows directly (seeding, benchmarks); services pass their own.
    Typed loosely so that it can be spread into `Model.create(**stamp(...), using_db=...)`."""
    return {name: when for name in STAMPED if name in model._meta.fields_map}
