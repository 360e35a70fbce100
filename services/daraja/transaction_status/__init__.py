"""Transaction Status: the outcome of any transaction, by receipt or by our payout id."""

from services.daraja.transaction_status.query import transaction_status

__all__ = ["transaction_status"]
