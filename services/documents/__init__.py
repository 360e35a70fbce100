"""Receipts and invoices: gapless numbers, PDFs drawn on demand, invoices to clients.

    numbers.py   the (series, year) counters, and issuing a movement's receipt once
    pdf.py       drawing a receipt or an invoice with fpdf2's core fonts
    invoices.py  reading what a manager typed after /invoice
    service.py   DocumentService: /receipt, /invoice, and the email dispatcher's attachments
    errors.py    what can be refused

A receipt is issued in the transaction that completes a payment (services/payments/
settlement.py) or pays a payout (services/payroll/_outcomes.py); the receipt email names it
and the email dispatcher draws the PDF when it sends.
"""

from services.documents.errors import (
    BadReference,
    DocumentError,
    DocumentNotFound,
    InvalidInvoice,
    NotPaidYet,
    NotYours,
)
from services.documents.invoices import USAGE as INVOICE_USAGE
from services.documents.invoices import InvoiceDraft, parse_invoice
from services.documents.numbers import (
    company_year,
    format_number,
    issue_receipt,
    parse_number,
    take_number,
)
from services.documents.pdf import latin1
from services.documents.service import (
    RECEIPT_USAGE,
    DocumentService,
    InvoiceCheckout,
    NewInvoice,
)

__all__ = [
    "INVOICE_USAGE",
    "RECEIPT_USAGE",
    "BadReference",
    "DocumentError",
    "DocumentNotFound",
    "DocumentService",
    "InvalidInvoice",
    "InvoiceCheckout",
    "InvoiceDraft",
    "NewInvoice",
    "NotPaidYet",
    "NotYours",
    "company_year",
    "format_number",
    "issue_receipt",
    "latin1",
    "parse_invoice",
    "parse_number",
    "take_number",
]
