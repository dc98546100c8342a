"""`write_report`: the tree as `tree.json` plus a self-contained HTML viewer.

The viewer is one static file (`viewer.html`, no network, no CDN) with the tree embedded as
JSON, so a report can be opened from disk, attached to a ticket, or archived by CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ponder.graph.export import save_tree, validate_tree
from ponder.graph.types import SearchResult

TEMPLATE = Path(__file__).with_name("viewer.html")
_SLOT = "/*__PONDER_DATA__*/null"


def render_html(tree: dict[str, Any], result: dict[str, Any] | None = None) -> str:
    """The viewer page with `tree` (and the result summary) embedded."""
    payload = json.dumps({"tree": tree, "result": result or {}}, ensure_ascii=False, default=str)
    # "</" inside a <script> would close it early; the escaped form parses to the same JSON.
    payload = payload.replace("</", "<\\/").replace("<!--", "\\u003c!--")
    return TEMPLATE.read_text(encoding="utf-8").replace(_SLOT, payload)


def write_report(result: SearchResult, folder: Path) -> dict[str, Path]:
    """Write `tree.json` and `report.html` into `folder`; returns {"tree": path, "html": path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    validate_tree(result.tree, where="SearchResult.tree")
    summary = result.model_dump(mode="json", exclude={"tree"})
    tree_path = save_tree(result.tree, folder / "tree.json")
    html_path = folder / "report.html"
    html_path.write_text(render_html(result.tree, summary), encoding="utf-8")
    return {"tree": tree_path, "html": html_path}
