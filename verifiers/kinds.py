"""The PRM kinds, apart from the PRMs: `--prm` declares its choices from this Literal at start-up
without importing the reward-model clients (see `ponder.verifiers.prm` for what each kind is)."""

from __future__ import annotations

from typing import Literal

PrmKind = Literal["none", "served", "judge", "confidence", "learned"]
