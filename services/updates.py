"""Telegram update ids already handled: a redelivered update is acted on once."""

from __future__ import annotations

from datetime import timedelta

from tortoise.exceptions import IntegrityError

from models import ProcessedUpdate
from services.clock import Clock

# Telegram keeps an undelivered update for at most 24 hours; twice that is safe.
KEEP_FOR = timedelta(hours=48)


async def first_time(update_id: int, clock: Clock) -> bool:
    """Record the update; False if this or another process already took it."""
    try:
        await ProcessedUpdate.create(update_id=update_id, received_at=clock.now())
    except IntegrityError:
        return False
    return True


async def forget_old(clock: Clock) -> int:
    return await ProcessedUpdate.filter(received_at__lt=clock.now() - KEEP_FOR).delete()
