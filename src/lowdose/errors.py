"""Errors every interface turns into a clear message (CLI exit 1, HTTP 422 problem details)."""


class InputError(ValueError):
    """Input that cannot be used, with the field it came from.

    `field` is a dotted path in the caller's terms (`medications.2.last_taken`,
    `--target`), so the message can name exactly what to fix.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
