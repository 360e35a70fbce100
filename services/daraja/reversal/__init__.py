"""Reversal: give back a whole payment we received (POST /mpesa/reversal/v1/request)."""

from services.daraja.reversal.request import reversal

__all__ = ["reversal"]
