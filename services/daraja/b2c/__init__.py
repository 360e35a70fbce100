"""B2C: pay a person from the B2C shortcode (POST /mpesa/b2c/v3/paymentrequest)."""

from services.daraja.b2c.payment_request import (
    B2C_MAX_AMOUNT,
    B2C_MIN_AMOUNT,
    B2CCommand,
    b2c_payment,
)

__all__ = ["B2C_MAX_AMOUNT", "B2C_MIN_AMOUNT", "B2CCommand", "b2c_payment"]
