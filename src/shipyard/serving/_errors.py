"""The serving package's light errors: importable by a worker that has no pandas."""

from __future__ import annotations

__all__ = ["PayloadError"]


class PayloadError(Exception):
    """The request body does not fit the model: answered with ``status`` and ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
