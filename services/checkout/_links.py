"""`/paylink <deposit #|invoice number>`: a new link for a deposit's or an invoice's checkout,
when the first expired or was lost (only a link's hash is kept, so it cannot be shown again).
The old link stops working. An invoice made without a link (before M-Pesa was set up) gets
its checkout here, if M-Pesa can take its total."""

from __future__ import annotations

import contextlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Deposit,
    Event,
    EventStatus,
    Invoice,
    InvoiceStatus,
    Person,
)
from services import audit
from services.checkout._errors import BadDeposit, LinkChanged, NothingToPay
from services.checkout._invoices import ONLINE_MAX, open_checkout
from services.checkout._view import CheckoutView, load_view
from services.errors import NotFound
from services.ids import parse_id
from services.money import format_kes

USAGE = (
    "Send /paylink with a deposit's number or an invoice's, like /paylink 3 or "
    "/paylink INV-2026-000045. /deposits lists them."
)
_INVOICE = re.compile(r"INV-?(\d{4})-?(\d{1,6})", re.IGNORECASE)


@dataclass(frozen=True)
class NewLink:
    view: CheckoutView
    link: str  # shown once: only its hash is kept
    expires_at: datetime


async def target(text: str, actor: Person, now: datetime, digest: str, days: int) -> Deposit:
    """The checkout `text` names, ready for a new link; its invoice's checkout is opened here
    if it never had one."""
    shown = " ".join(text.split()).lstrip("#")
    number = _INVOICE.fullmatch(shown)
    if number is not None:
        return await _invoice_checkout(number, actor, now, digest, days)
    deposit_id = parse_id(shown)
    if deposit_id is None:
        raise BadDeposit(
            f"“{shown[:30]}” is not a deposit or invoice number. {USAGE}" if shown else USAGE
        )
    deposit = await Deposit.get_or_none(id=deposit_id)
    if deposit is None:
        raise NotFound(f"There is no deposit #{deposit_id}. /deposits lists them.")
    return deposit


async def _invoice_checkout(
    number: re.Match[str], actor: Person, now: datetime, digest: str, days: int
) -> Deposit:
    name = f"INV-{number[1]}-{int(number[2]):06d}"
    invoice = await Invoice.get_or_none(number=name)
    if invoice is None:
        raise NotFound(f"There is no invoice {name}.")
    if invoice.status is not InvoiceStatus.OPEN:
        raise NothingToPay(f"Invoice {name} is {invoice.status.value}: nothing to pay.")
    deposit = await Deposit.get_or_none(invoice_id=invoice.id)
    if deposit is not None:
        return deposit
    if invoice.total > ONLINE_MAX:
        raise NothingToPay(
            f"Invoice {name} is for {format_kes(invoice.total)}, more than a payment link can "
            f"take ({format_kes(ONLINE_MAX)}). The client pays it another way."
        )
    event = await Event.get(id=invoice.event_id)  # type: ignore[attr-defined]
    # Its alerts go to whoever made the invoice (if they are still on the list).
    owner = await Person.get_or_none(id=invoice.created_by_id, active=True) or actor  # type: ignore[attr-defined]
    # Another manager opening it at the same moment: one checkout (the invoice is unique on
    # it), and the later new link replaces the earlier.
    with contextlib.suppress(IntegrityError):
        async with in_transaction() as conn:
            await open_checkout(conn, invoice, event, owner, now, digest=digest, days=days)
    return await Deposit.get(invoice_id=invoice.id)


async def relink(
    deposit: Deposit, actor: Person, now: datetime, *, digest: str, days: int
) -> tuple[CheckoutView, datetime]:
    """The deposit's link replaced by the one whose hash is `digest`; until when it works."""
    view = await load_view(deposit, now)
    what = view.what if view.invoice else f"Deposit #{deposit.id}"
    if view.current is None:
        raise NothingToPay(f"{what} is paid in full: no link is needed.")
    if view.invoice is None and view.event.status is EventStatus.CANCELLED:
        raise NothingToPay(f"Event #{view.event.id} {view.event.title} is cancelled.")
    last_due = max(line.instalment.due_at for line in view.lines)
    expires_at = max(now, last_due) + timedelta(days=days)
    async with in_transaction() as conn:
        # Only over the link this call read: of two managers at once, one gets the link that
        # works and the other is told, never two links of which one is dead.
        replaced = (
            await Deposit.filter(id=deposit.id, token_hash=deposit.token_hash)
            .using_db(conn)
            .update(token_hash=digest, expires_at=expires_at, updated_at=now)
        )
        if not replaced:
            raise LinkChanged(
                f"Another manager made a new link for {what[:1].lower()}{what[1:]} a moment "
                "ago: use theirs, or send /paylink again for yours."
            )
        await audit.record(
            AuditAction.CHECKOUT_RELINKED,
            "deposit",
            deposit.id,
            at=now,
            actor=actor,
            details={"what": what, "client": deposit.client_name},
            using_db=conn,
        )
    deposit.token_hash, deposit.expires_at = digest, expires_at
    return await load_view(deposit, now), expires_at


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 bits
