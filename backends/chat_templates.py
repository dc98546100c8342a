"""Chat templates for backends whose server takes raw text (SGLang's native `/generate`).

SGLang's native API has no chat endpoint that returns token ids, so the client renders chat
messages itself. A template is any callable `(messages, assistant_prefix) -> prompt text`;
ChatML is the default because SmolLM2, Qwen2/2.5/3 and many fine-tunes use it. Pass your own
callable for other families (the rendered text must match what the model was trained on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ponder.backends.base import ChatMessage
from ponder.backends.errors import BackendConfigError

ChatTemplate = Callable[[Sequence[ChatMessage], str | None], str]


def chatml(messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
    """ChatML: `<|im_start|>role\\ncontent<|im_end|>\\n` per turn, then an open assistant turn."""
    turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return f"{turns}<|im_start|>assistant\n{assistant_prefix or ''}"


def llama3(messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
    """Llama 3.x instruct format (the server's tokenizer adds no second BOS: we start with it)."""
    turns = "".join(
        f"<|start_header_id|>{m.role}<|end_header_id|>\n\n{m.content}<|eot_id|>" for m in messages
    )
    header = "<|start_header_id|>assistant<|end_header_id|>\n\n"
    return f"<|begin_of_text|>{turns}{header}{assistant_prefix or ''}"


SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
"""The system turn SmolLM2's own template adds when a conversation has none."""


def smollm2(messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
    """SmolLM2-Instruct's template: ChatML with its default system turn, exactly what the GGUF's
    `tokenizer.chat_template` renders (so an SGLang server sees the embedded engine's prompts)."""
    if not messages or messages[0].role != "system":
        messages = [ChatMessage(role="system", content=SMOLLM2_SYSTEM), *messages]
    return chatml(messages, assistant_prefix)


TEMPLATES: dict[str, ChatTemplate] = {"chatml": chatml, "llama3": llama3, "smollm2": smollm2}
"""Templates selectable by name (`chat_template` setting); a path to a Jinja file works too."""


def resolve_template(name: str) -> ChatTemplate:
    """A template by name, or compiled from a Jinja file when `name` is a path to one.

    Raises:
        BackendConfigError: neither a known name nor a readable template file.
    """
    if name in TEMPLATES:
        return TEMPLATES[name]
    path = Path(name).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(TEMPLATES))
        raise BackendConfigError(
            f"unknown chat template {name!r}: use one of {known} or the path of a Jinja chat template file"
        )
    from ponder.backends._chat_template import ChatTemplate as JinjaTemplate

    return JinjaTemplate(path.read_text(encoding="utf-8")).render
