"""Build the backend the settings ask for; the only place that maps `kind` to a class."""

from __future__ import annotations

from ponder.backends.base import BaseBackend
from ponder.backends.errors import BackendConfigError
from ponder.backends.settings import BackendSettings


def make_backend(settings: BackendSettings | None = None) -> BaseBackend:
    """A backend for `settings.kind` ("embedded" by default).

    Imports are deferred so that choosing an HTTP backend never loads llama.cpp, and the embedded
    engine never needs the HTTP clients.

    Raises:
        BackendConfigError: the settings do not describe a usable backend (e.g. no URL for openai).
        ModelNotFoundError: the embedded model file is missing.
    """
    settings = settings or BackendSettings()
    if settings.kind == "embedded":
        from ponder.backends.llama.backend import EmbeddedBackend

        return EmbeddedBackend(settings)
    if settings.kind == "sglang":
        from ponder.backends.sglang import SGLangBackend

        return SGLangBackend.from_settings(settings)
    if settings.kind == "openai":
        from ponder.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend.from_settings(settings)
    raise BackendConfigError(f"unknown backend kind {settings.kind!r}; use embedded, sglang or openai")
