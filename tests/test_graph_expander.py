"""The graph's second proposer (`ponder.graph.expander`): children that are not the model's.

A toy tree of edits: a node holds a number, a child adds one "edit" (+3 or *2), the verifier's
score is how close the number is to the target, and a child that gets no closer than its parent
is pruned. The target needs two edits, so the search finds it only if a verified but unfinished
node is expanded again, which is what the expander's non-terminal answers make possible.
"""

from __future__ import annotations

import pytest

from ponder.backends.base import Usage
from ponder.graph import Budget, SearchConfig, run_search
from ponder.graph.expander import Expander, Proposal
from ponder.graph.state import FrontierItem
from ponder.graph.testing import ScriptedBackend, ScriptedVerifier, text_task
from ponder.graph.tree import ROOT_ID, TreeView
from ponder.verifiers.types import Chain, StepScore

START, TARGET = 2, 10  # 2 → 5 (+3) → 10 (*2); no single edit reaches it


def _closeness(n: int) -> float:
    return 1.0 / (1 + abs(TARGET - n))


class Arithmetic(Expander):
    """Children of a number: +3 and *2, the +3 first; `written` marks them as model-written."""

    def __init__(self, *, written: bool = False) -> None:
        self.written = written
        self.asked: list[FrontierItem] = []

    async def propose(self, view: TreeView, item: FrontierItem) -> list[Proposal] | None:
        self.asked.append(item)
        node = view[item["node"]]
        n = START if node["id"] == ROOT_ID else int(node["answer"] or 0)
        tried = {view[c]["answer"] for c in view.children(item["node"])}
        usage = Usage(completion_tokens=5) if self.written else Usage()
        fresh = [str(m) for m in (n + 3, n * 2) if str(m) not in tried]
        return [Proposal(answer=m, step=f"{n} → {m}", usage=usage) for m in fresh][: item["k"]]


def _judge(chain: Chain) -> StepScore:
    n = int(chain.answer or 0)
    parent = int(chain.steps[-2].split(" → ")[-1]) if len(chain.steps) > 1 else START
    if n == TARGET:
        return StepScore(score=1.0, gate="pass")
    closer = abs(TARGET - n) < abs(TARGET - parent) and not chain.terminal  # terminal: at max depth
    return StepScore(score=_closeness(n), gate="unknown" if closer else "fail")


def _config(strategy: str, **budget: int) -> SearchConfig:
    return SearchConfig(
        strategy=strategy,  # type: ignore[arg-type]
        budget=Budget(max_seconds=30, **budget),
        expansions_per_node=2,
        beam_width=2,
        max_depth=4,
        n=8,
        refine_rounds=8,
    )


@pytest.mark.parametrize("strategy", ["beam", "mcts", "refine"])
async def test_an_expanders_partial_node_is_expanded_again_until_two_edits_pass(strategy: str) -> None:
    backend = ScriptedBackend(lambda ctx: "never asked")
    expander = Arithmetic()
    result = await run_search(
        text_task(), _config(strategy), backend=backend, verifier=ScriptedVerifier(_judge), expander=expander
    )
    assert result.verified and result.answer == str(TARGET), result.reason
    assert result.source == "mutation"
    nodes = {n["id"]: n for n in result.tree["nodes"]}
    fix = nodes[result.node_id or ""]
    assert not fix["terminal"]  # a verified unfinished node is a candidate
    ancestors = [a for a in _path(nodes, fix["id"]) if a != fix["id"]]
    assert len(ancestors) >= 1 and all(nodes[a]["gate"] == "unknown" for a in ancestors)
    assert backend.log.generate_calls == 0  # the expander answered every planned expansion
    assert result.spend.expansions == 0  # operator children cost no model expansion, as seeds


async def test_written_children_count_as_expansions_and_tokens() -> None:
    expander = Arithmetic(written=True)
    result = await run_search(
        text_task(),
        _config("beam", max_expansions=2),
        backend=ScriptedBackend(lambda ctx: "never asked"),
        verifier=ScriptedVerifier(_judge),
        expander=expander,
    )
    assert result.spend.expansions == 2 and result.spend.tokens_generated == 10
    assert result.stop_reason == "budget" and not result.verified


def _path(nodes: dict[str, dict[str, object]], nid: str) -> list[str]:
    out = []
    while nid != ROOT_ID:
        out.append(nid)
        nid = str(nodes[nid]["parent"])
    return out


class ModelsOnly(Expander):
    async def propose(self, view: TreeView, item: FrontierItem) -> list[Proposal] | None:
        return None


async def test_an_expander_that_declines_leaves_the_node_to_the_model() -> None:
    backend = ScriptedBackend(lambda ctx: "Answer: 10")
    result = await run_search(
        text_task(),
        _config("greedy"),
        backend=backend,
        verifier=ScriptedVerifier(lambda c: StepScore(score=1.0, gate="pass")),
        expander=ModelsOnly(),
    )
    assert result.verified and result.source == "model" and backend.log.generate_calls == 1
