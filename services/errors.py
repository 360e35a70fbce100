"""The root of every service's errors. Handlers show `str(error)` to the user as is."""


class CallsheetError(Exception):
    """A refusal the user can act on; the message says what was wrong and what is expected."""
