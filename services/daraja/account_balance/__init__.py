"""Account Balance: what the B2C shortcode's accounts hold (the Utility account pays out)."""

from services.daraja.account_balance.query import account_balance

__all__ = ["account_balance"]
