"""The audit log: who changed what, when, from which chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import AuditAction, AuditLog, Person


async def record(
    action: AuditAction,
    subject_type: str,
    subject_id: int | None,
    *,
    at: datetime,
    actor: Person | None = None,
    actor_label: str | None = None,
    chat_id: int | None = None,
    details: dict[str, Any] | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> AuditLog:
    return await AuditLog.create(
        at=at,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        actor_label=actor_label or (actor.name if actor else "system"),
        chat_id=chat_id,
        details=details or {},
        using_db=using_db,
    )
