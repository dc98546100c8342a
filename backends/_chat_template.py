"""Render chat messages with the model's own template (GGUF `tokenizer.chat_template`).

Small models are sensitive to the exact prompt format, so we render the template that ships with
the weights, sandboxed the way Hugging Face's tokenizers do. ChatML (`<|im_start|>role\\n...
<|im_end|>\\n`, SmolLM2's format) is the fallback for files without a template.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ponder.backends.base import ChatMessage
from ponder.backends.chat_templates import chatml
from ponder.backends.errors import BackendConfigError

try:
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:  # pragma: no cover - jinja2 comes with llama-cpp-python
    ImmutableSandboxedEnvironment = None  # type: ignore[assignment,misc]
    TemplateError = Exception  # type: ignore[assignment,misc]


def _raise(message: str) -> None:
    raise TemplateError(message)


class ChatTemplate:
    """A compiled chat template; `source=None` (or no jinja2) means ChatML."""

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        self.source = source
        self._special = {"bos_token": bos_token, "eos_token": eos_token}
        self._template: Any = None
        if source and ImmutableSandboxedEnvironment is not None:
            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            env.globals["raise_exception"] = _raise
            try:
                self._template = env.from_string(source)
            except TemplateError as exc:
                raise BackendConfigError(
                    f"the model's chat template does not compile ({exc}); use a GGUF with a valid "
                    "tokenizer.chat_template or send prompts as text"
                ) from exc

    def render(self, messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
        if self._template is None:
            return chatml(messages, assistant_prefix)
        try:
            text: str = self._template.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                **self._special,
            )
        except TemplateError as exc:
            raise BackendConfigError(f"the model's chat template rejected the messages: {exc}") from exc
        return text + (assistant_prefix or "")
