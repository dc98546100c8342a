"""Typed sandbox settings: which isolation, which image, how many warm containers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SandboxKind = Literal["auto", "docker", "local"]

DEFAULT_IMAGE = "ponder-sandbox:latest"
IMAGE_CONTENTS = "python3, pytest, pytest-asyncio, numpy, pandas and scipy"
"""What both image recipes (`ponder.sandbox.image`) install, for messages that name it."""


class SandboxSettings(BaseModel):
    """How untrusted code runs. `auto` = Docker when an engine answers, else refuse unless `allow_local`."""

    model_config = ConfigDict(extra="forbid")

    kind: SandboxKind = "auto"
    image: str = DEFAULT_IMAGE
    """Docker image with IMAGE_CONTENTS (`ponder sandbox build-image` makes it)."""
    pool_size: int = Field(default=2, ge=0, le=64)
    """Pre-started containers kept warm (0 = start one per run)."""
    max_concurrency: int | None = Field(default=None, ge=1)
    """Runs at once; `None` = number of cores."""
    runtime: str | None = None
    """Container runtime, e.g. "runsc" for gVisor (must be registered with the engine); "auto" = runsc
    when the engine has it, else the default; `None` = the engine's default."""
    allow_local: bool = False
    """With kind=auto and no Docker engine, fall back to the weaker subprocess sandbox (warns once)."""
