"""Generation backends behind one interface (see base.BaseBackend)."""

from ponder.backends.embedded import EmbeddedBackend

__all__ = ["EmbeddedBackend"]
from ponder.backends.factory import make_backend
from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.backends.sglang import SGLangBackend

__all__ += ["OpenAICompatBackend", "SGLangBackend", "make_backend"]
