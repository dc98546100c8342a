"""The tree as a documented JSON document (schema: `graph/tree.schema.json`).

The export is what `SearchResult.tree` holds, what `write_report` embeds in the HTML viewer,
and what `load_tree` reads back. Token ids are left out (they are cache plumbing, not
evidence); each node keeps its token count instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ponder.errors import PonderError
from ponder.graph.state import Node
from ponder.graph.tree import ROOT_ID
from ponder.graph.types import Spend

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("tree.schema.json")
_NODE_FIELDS = (
    "id",
    "parent",
    "depth",
    "step",
    "n_tokens",
    "terminal",
    "answer",
    "source",
    "finish_reason",
    "score",
    "gate",
    "evidence",
    "value",
    "pruned",
    "visits",
    "value_sum",
    "feedback",
)


class TreeFormatError(PonderError, ValueError):
    """A tree file is not a ponder tree export (wrong version or missing fields)."""


def path_to(nodes: Mapping[str, Mapping[str, Any]], node_id: str | None) -> list[str]:
    """The ids from the root down to `node_id` (empty for None), in live or exported nodes."""
    path: list[str] = []
    cur = node_id
    while cur is not None:
        path.append(cur)
        cur = nodes[cur]["parent"]
    return path[::-1]


def export_tree(
    nodes: Mapping[str, Node],
    *,
    chosen: str | None,
    spend: Spend,
    strategy: str,
    question: str = "",
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole tree, JSON-serialisable: nodes in creation order, the chosen path, the spend."""
    ordered = sorted(nodes.values(), key=lambda n: n["seq"])
    return {
        "schema_version": SCHEMA_VERSION,
        "strategy": strategy,
        "question": question,
        "root": ROOT_ID,
        "chosen": chosen,
        "chosen_path": path_to(nodes, chosen),
        "spend": spend.model_dump(),
        "config": config or {},
        "nodes": [{k: n.get(k) for k in _NODE_FIELDS} for n in ordered],
    }


def save_tree(tree: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tree, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def load_tree(path: Path) -> dict[str, Any]:
    """Read a tree export back; raises `TreeFormatError` naming the file when it is not one."""
    try:
        data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TreeFormatError(
            f"cannot read tree file {path}: {exc}; pass a tree.json written by ponder"
        ) from exc
    validate_tree(data, where=str(path))
    return data


def validate_tree(data: Any, *, where: str = "tree") -> None:
    """Check the parts of the schema every reader relies on (no jsonschema dependency needed)."""
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise TreeFormatError(f"{where} is not a ponder tree (schema_version {SCHEMA_VERSION} expected)")
    missing = [k for k in ("root", "nodes", "chosen_path", "spend", "strategy") if k not in data]
    if missing:
        raise TreeFormatError(
            f"{where} lacks {', '.join(missing)}; re-export it with ponder.graph.write_report"
        )
    ids = set()
    for node in data["nodes"]:
        absent = [k for k in ("id", "parent", "depth", "step") if k not in node]
        if absent:
            raise TreeFormatError(f"{where}: node {node.get('id', '?')} lacks {', '.join(absent)}")
        if node["parent"] is not None and node["parent"] not in ids:
            raise TreeFormatError(f"{where}: node {node['id']} comes before its parent {node['parent']}")
        ids.add(node["id"])
