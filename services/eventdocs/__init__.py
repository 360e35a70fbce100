"""Documents attached to events (stage plots, riders, run sheets):

_kinds.py      which files are kept, the 20 MB limit
_store.py      the copies under FILES_DIR, named by content hash
_service.py    EventDocuments: attach, list, remove; what a briefing's email attaches
_briefing.py   a briefing's outbox rows with the documents added
"""

from services.eventdocs._briefing import with_documents
from services.eventdocs._errors import DocumentError, DocumentNotFound, EventClosed, FileRefused
from services.eventdocs._kinds import KEPT_TYPES, MAX_BYTES, Offered
from services.eventdocs._service import Attached, EventDocuments
from services.eventdocs._store import FileStore, digest
from services.sizes import human_size

__all__ = [
    "KEPT_TYPES",
    "MAX_BYTES",
    "Attached",
    "DocumentError",
    "DocumentNotFound",
    "EventClosed",
    "EventDocuments",
    "FileRefused",
    "FileStore",
    "Offered",
    "digest",
    "human_size",
    "with_documents",
]
