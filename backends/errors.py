"""Exceptions raised by backends.

* PonderError                      (ponder.errors; the root of every ponder error)
  x BackendError                   anything a backend raises
    + BackendConfigError           you asked for something this backend cannot do / bad settings
    + BackendUnavailableError      the server could not be reached (connect error, timeout)
    + BackendResponseError         the server answered, but with an error status or bad payload
    + ModelNotFoundError           the model file/name does not exist

Every message names where (URL, model path) and what to check, so a CLI can print it as is.
"""

from __future__ import annotations

from ponder.errors import PonderError


class BackendError(PonderError):
    """Raised by a backend; subclasses say whether the caller or the world is at fault."""


class BackendConfigError(BackendError, ValueError):
    """Invalid request or settings, detected before anything is sent."""


class BackendUnavailableError(BackendError):
    """The server did not answer (refused, DNS, timeout). Retrying later may help."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class BackendResponseError(BackendError):
    """The server answered with an error status or a payload that does not parse."""

    def __init__(self, message: str, *, url: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status_code = status_code


class ModelNotFoundError(BackendError, FileNotFoundError):
    """The model file or name is not available; the message says which package or setting provides it."""
