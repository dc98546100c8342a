"""Generation backends behind one interface (see base.BaseBackend)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ponder._lazy import attach

if TYPE_CHECKING:
    from ponder.backends.factory import make_backend
    from ponder.backends.llama.backend import EmbeddedBackend
    from ponder.backends.openai_compat import OpenAICompatBackend
    from ponder.backends.sglang import SGLangBackend

__all__ = ["EmbeddedBackend", "OpenAICompatBackend", "SGLangBackend", "make_backend"]

# Submodules load on first use (PEP 562): naming one backend must not import llama.cpp or openai.
# Hidden from type checkers, which read the imports above, so a misspelt name is still an error.
if not TYPE_CHECKING:
    __getattr__, __dir__ = attach(
        __name__,
        __all__,
        {
            "llama.backend": ("EmbeddedBackend",),
            "factory": ("make_backend",),
            "openai_compat": ("OpenAICompatBackend",),
            "sglang": ("SGLangBackend",),
        },
    )
