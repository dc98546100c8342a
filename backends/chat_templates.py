"""Chat templates for backends whose server takes raw text (SGLang's native `/generate`).

SGLang's native API has no chat endpoint that returns token ids, so the client renders chat
messages itself. A template is any callable `(messages, assistant_prefix) -> prompt text`;
ChatML is the default because SmolLM2, Qwen2/2.5/3 and many fine-tunes use it. Pass your own
callable for other families (the rendered text must match what the model was trained on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ponder.backends.base import ChatMessage

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


TEMPLATES: dict[str, ChatTemplate] = {"chatml": chatml, "llama3": llama3}
"""Templates selectable by name."""
