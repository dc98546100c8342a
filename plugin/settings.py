"""One settings object for every surface, with one precedence rule.

flags > ``PONDER_*`` environment variables > ``ponder.toml`` > defaults.

Environment names are ``PONDER_<SECTION>_<FIELD>`` in capitals, e.g. ``PONDER_BACKEND_KIND=sglang``,
``PONDER_BACKEND_URL=http://127.0.0.1:30000``, ``PONDER_SANDBOX_POOL_SIZE=4``,
``PONDER_SEARCH_STRATEGY=mcts``, ``PONDER_PRM_KIND=judge``. ``ponder.toml`` uses the same sections
as tables::

    [backend]
    kind = "openai"
    url = "http://127.0.0.1:8000/v1"

    [search]
    strategy = "beam"
    budget = { max_tokens = 8000 }
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.backends.settings import BackendSettings
from ponder.errors import PonderError
from ponder.graph.types import SearchConfig
from ponder.sandbox.settings import SandboxSettings
from ponder.verifiers.prm import PrmSettings

CONFIG_FILE = "ponder.toml"
ENV_PREFIX = "PONDER_"


class SettingsError(PonderError, ValueError):
    """Settings that do not validate; the message names the source (flag, variable, file) and the field."""


class PonderSettings(BaseModel):
    """Everything a surface needs to build a backend, a sandbox and a search."""

    model_config = ConfigDict(extra="forbid")

    backend: BackendSettings = Field(default_factory=BackendSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    search: SearchConfig = Field(default_factory=SearchConfig)
    prm: PrmSettings = Field(default_factory=PrmSettings)


def _section_fields() -> dict[str, type[BaseModel]]:
    return {name: info.annotation for name, info in PonderSettings.model_fields.items()}  # type: ignore[misc]


def _from_env(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Read PONDER_<SECTION>_<FIELD>; values are parsed as TOML scalars/inline tables where they parse."""
    out: dict[str, dict[str, Any]] = {}
    for section, model in _section_fields().items():
        for field in model.model_fields:
            name = f"{ENV_PREFIX}{section}_{field}".upper()
            if name in environ:
                out.setdefault(section, {})[field] = _parse_scalar(environ[name])
    return out


def _parse_scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay `top` on `base`; `None` in `top` means "not given" at every depth."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping):
            merged[key] = _merge(merged.get(key) or {}, value)
        elif value is not None:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc}); fix the file or remove it") from exc
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read ({exc.strerror})") from exc


def load_settings(
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> PonderSettings:
    """Build settings from defaults, ``ponder.toml``, the environment and `overrides` (flags).

    Args:
        overrides: ``{"backend": {"kind": "sglang"}, ...}``; `None` values mean "flag not given".
        config_file: explicit file (must exist); default ``./ponder.toml`` when present.
        environ: defaults to ``os.environ``.

    Raises:
        SettingsError: one line naming the bad field, its value and where it came from.
    """
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, Mapping[str, Any]]] = []
    path = config_file or Path(environ.get(f"{ENV_PREFIX}CONFIG", CONFIG_FILE))
    if config_file is not None and not path.is_file():
        raise SettingsError(f"config file {path} does not exist; pass an existing file or drop --config")
    if path.is_file():
        layers.append((str(path), _read_toml(path)))
    layers.append(("environment (PONDER_*)", _from_env(environ)))
    layers.append(("command-line flags", overrides or {}))

    data: dict[str, Any] = {}
    for source, layer in layers:
        candidate = _merge(data, layer)
        try:
            PonderSettings.model_validate(candidate)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, source)) from exc
        data = candidate
    return PonderSettings.model_validate(data)


def _describe(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    value = err.get("input")
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid setting {where}={value!r} from {source}: {err['msg']}{extra}"
