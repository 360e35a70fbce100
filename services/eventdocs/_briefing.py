"""A briefing carries the event's documents: in chat each one follows the briefing, sent again
by its Telegram file_id; by email they are attached to the briefing's message."""

from __future__ import annotations

from collections.abc import Sequence

from models import Channel, DocumentSeries, EventDocument, NotificationKind, OutboxMessage


def with_documents(
    rows: Sequence[OutboxMessage],
    documents: Sequence[EventDocument],
    briefing_id: int,
    caption: str,
) -> list[OutboxMessage]:
    """`rows` (a briefing's, from `Notifier.prepare`) with the documents added: after each chat
    row, one row per document; each email row attaches them all."""
    if not documents:
        return list(rows)
    out: list[OutboxMessage] = []
    for row in rows:
        out.append(row)
        if row.channel is Channel.EMAIL:
            row.attachment, row.attachment_id = DocumentSeries.BRIEFING, briefing_id
        elif row.chat_id is not None and row.kind is NotificationKind.BRIEFING:
            out += [
                OutboxMessage(
                    person=row.person,
                    channel=Channel.TELEGRAM,
                    kind=NotificationKind.BRIEFING,
                    dedupe_key=f"{row.dedupe_key}:doc{d.id}" if row.dedupe_key else None,
                    chat_id=row.chat_id,
                    text=caption,  # the document's caption: which event it is for
                    attachment=DocumentSeries.EVENT_FILE,
                    attachment_id=d.id,
                    next_attempt_at=row.next_attempt_at,
                    created_at=row.created_at,
                )
                for d in documents
            ]
    return out
