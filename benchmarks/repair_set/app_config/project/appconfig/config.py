"""Nested JSON settings looked up by dotted key ("db.pool.size")."""

import json
from pathlib import Path
from typing import Any


class Config:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @classmethod
    def from_file(cls, path: Path) -> "Config":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def get(self, dotted: str, default: Any = None) -> Any:
        """The value at `dotted`, or `default` when any part of the path is missing."""
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def get_int(self, dotted: str, default: int = 0) -> int:
        """The value at `dotted` as an int (JSON written by hand often quotes numbers)."""
        value = self.get(dotted)
        if value is None:
            return default
        int(value)
