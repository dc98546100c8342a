"""How the repair tree (`ponder.plugin.repair.edit_tree`) is searched: the config the strategies
get, and the model's child of a node.

The strategies are the graph's own; only their breadth and depth are set here so that a tree of
edits makes sense: the project's own mutants are one level (as many as ``--mutants`` asks, so a
one-edit bug is found as before), the edits on top of a partial fix the next levels, and no path
holds more than TREE_DEPTH edits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ponder.backends.base import BaseBackend, ChatMessage, GenerationRequest, Usage
from ponder.backends.errors import BackendError
from ponder.graph.prompts import request_seed
from ponder.graph.state import Node
from ponder.graph.tree import ROOT_ID
from ponder.graph.types import SearchConfig
from ponder.plugin.repair.edit_tree import EditTree, ModelEdit, ModelWriter
from ponder.plugin.repair.edits import read_edit
from ponder.plugin.repair.hunks import EditError
from ponder.plugin.repair.mutant_rank import rank_mutants
from ponder.plugin.repair.mutations import Mutant
from ponder.plugin.repair.project import Project
from ponder.plugin.repair.prompts import REPAIR_FEEDBACK
from ponder.sandbox.types import TestReport
from ponder.verifiers.answers import extract_answer

logger = logging.getLogger(__name__)

TREE_DEPTH = 3
"""Edits on one path at most: two-edit fixes are the aim; a third allows one mistaken detour."""
STEP_CHARS = 400
"""A model reply that could not be applied is kept in the tree this long, for people."""


def tree_config(config: SearchConfig, max_mutants: int) -> SearchConfig:
    """`config` for a tree of edits: a beam's first round holds all `max_mutants` first edits
    (the beam's width times the children per node), and MCTS and refinement get iterations
    enough for two levels of them."""
    per_node = max(config.expansions_per_node, math.ceil(max_mutants / config.beam_width))
    return config.model_copy(
        update={
            "max_depth": min(config.max_depth, TREE_DEPTH),
            "expansions_per_node": per_node,
            "n": max(config.n, 2 * max_mutants),
            "refine_rounds": max(config.refine_rounds, 2 * max_mutants),
        }
    )


def model_writer(
    project: Project,
    backend: BaseBackend,
    config: SearchConfig,
    messages_for: Callable[[Project], list[ChatMessage]],
    *,
    target: str,
    suspects: Sequence[str],
) -> ModelWriter:
    """The model's child of a node: the repair prompt over the node's code, with its failing
    tests' feedback, one sample, read as an edit of that code (hunks, a function, a file)."""
    calls = 0

    async def write(base: Mapping[str, str], node: Node) -> ModelEdit | None:
        nonlocal calls
        calls += 1
        messages = messages_for(Project(root=project.root, sources=dict(base), tests=project.tests))
        feedback = (node.get("evidence") or {}).get("feedback") if node["id"] != ROOT_ID else None
        if feedback:
            messages.append(ChatMessage(role="user", content=REPAIR_FEEDBACK.format(feedback=feedback)))
        request = GenerationRequest(
            messages=messages,
            temperature=config.temperature,
            top_p=config.top_p if config.temperature > 0 else 1.0,
            max_tokens=config.max_step_tokens,
            seed=request_seed(config.seed, f"{node['id']}:{calls}"),
        )
        [samples] = await backend.generate([request])
        if not samples:
            return None  # a backend that proposes nothing (mutations only)
        comp = samples[0]
        usage = Usage(comp.usage.prompt_tokens, comp.usage.completion_tokens or len(comp.token_ids))
        answer = extract_answer(comp.text, "code")
        try:
            edit = read_edit(
                comp.text, answer, sources=base, tests=project.tests, target=target, suspects=suspects
            )
        except EditError as exc:
            return ModelEdit({}, comp.text.strip()[:STEP_CHARS], usage, error=str(exc))
        return ModelEdit(edit.files, edit.detail, usage, kind=edit.kind)

    return write


def edit_tree(
    project: Project,
    baseline: TestReport,
    config: SearchConfig,
    backend: BaseBackend,
    messages_for: Callable[[Project], list[ChatMessage]],
    *,
    focus: dict[str, set[int]],
    suspects: Sequence[str],
    max_mutants: int,
    write: bool = True,
    rank: bool = True,
    scores: dict[tuple[str, int], float] | None = None,
) -> EditTree:
    """The repair's edit tree: mutants at the `focus` lines, and the model's edit of each node
    expanded (a backend that proposes nothing leaves the tree to the mutants).

    Args:
        write: the model writes children too (False: it only ranks, if `rank`).
        rank: the model orders the mutants (`mutant_rank`), where the backend gives the
            alternatives' logprobs.
        scores: each suspect line's suspiciousness, which orders the mutants at one distance.
    """
    target = next(iter(focus))
    writer = model_writer(project, backend, config, messages_for, target=target, suspects=suspects)
    ranker = None
    if rank and backend.capabilities.top_logprobs:
        declined: list[str] = []

        async def ranker(base: Mapping[str, str], mutants: list[Mutant]) -> list[Mutant]:
            # Ranking only orders what gets tested, and it needs a raw-prompt completion, which a
            # chat-only server (many OpenAI-compatible ones) refuses: then the operators' order
            # stands for the rest of the repair instead of the refusal ending it.
            if declined:
                return mutants
            try:
                return await rank_mutants(backend, base, mutants)
            except BackendError as exc:
                declined.append(str(exc))
                logger.warning("mutants not ranked by the model (%s); operators' order kept", exc)
                return mutants

    return EditTree(
        project,
        focus,
        max_mutants,
        baseline.passed,
        model=writer if write else None,
        ranker=ranker,
        scores=dict(scores or {}),
    )


def best_candidate(tree: dict[str, Any], descriptions: Mapping[str, str]) -> str:
    """``4/6 passed (mutation: flip-comparison at m.py:3)``: how close the search came, for a
    repair that found no fix; "" when no candidate ran its tests. `descriptions`: the edits that
    made each tree node's answer."""
    ran = [
        n
        for n in tree.get("nodes", [])
        if n.get("answer") is not None
        and isinstance(total := n.get("evidence", {}).get("total"), int)
        and total > 0
    ]
    if not ran:
        return ""
    # The most tests passed; among equals, the first one tried.
    _, best = max(
        enumerate(ran), key=lambda p: (p[1]["evidence"].get("passed", 0) / p[1]["evidence"]["total"], -p[0])
    )
    made = descriptions.get(best.get("answer") or "")
    source = f"{best.get('source') or 'model'}: {made}" if made else str(best.get("source") or "model")
    evidence = best["evidence"]
    return f"{evidence.get('passed', 0)}/{evidence['total']} passed ({source})"
