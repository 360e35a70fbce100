"""Typed callback data for every inline button, one module per area (see `_base.py`).

No callback string is assembled by hand anywhere else: services put these on the messages
they queue, and handlers take their `pattern` and `parse` from the same class.
"""

from services.buttons._base import TELEGRAM_LIMIT, CallbackData, in_area

__all__ = ["TELEGRAM_LIMIT", "CallbackData", "in_area"]
