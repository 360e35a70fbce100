"""What asking for a receipt or making an invoice can be refused for (services/errors.py)."""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotAllowed, NotFound


class DocumentError(CallsheetError):
    pass


class DocumentNotFound(DocumentError, NotFound):
    pass


class NotYours(DocumentError, NotAllowed):
    pass


class NotPaidYet(DocumentError, Conflict):
    pass


class InvalidInvoice(DocumentError, InvalidInput):
    pass


class BadReference(DocumentError, InvalidInput):
    """Neither a payment number nor a receipt number."""
