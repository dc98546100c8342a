"""The search with real parts: the embedded SmolLM2 engine and tests executed in Docker.

These assert behaviour that does not depend on a 135M model being clever: a correct seed is
found and verified by executed tests before the model runs; refinement feeds the executed
failure back into the next prompt; `verified` is true exactly when the chosen candidate's tests
passed.
"""

from __future__ import annotations

from typing import Any

import pytest

from ponder.backends.base import ChatMessage
from ponder.graph import Budget, SearchConfig, SearchTask, Seed, run_search
from ponder.sandbox import Limits, SandboxSettings, open_sandbox
from ponder.verifiers import CodeVerifier, VerifyTask

pytestmark = [pytest.mark.model, pytest.mark.docker]

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a * b\n"
TESTS = {"test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"}


def repair_task(seeds: list[Seed]) -> SearchTask:
    return SearchTask(
        messages=[
            ChatMessage(
                role="system",
                content="You fix Python bugs. Reply with the whole fixed file in one ```python code block.",
            ),
            ChatMessage(
                role="user",
                content=f"calc.py:\n```python\n{BUGGY}```\nThe test "
                "`assert add(2, 3) == 5` fails. Fix calc.py.",
            ),
        ],
        verify=VerifyTask(
            kind="code",
            question="fix add in calc.py",
            inputs={"source_path": "calc.py", "files": {"calc.py": BUGGY}, "tests": TESTS},
        ),
        answer_format="code",
        seeds=seeds,
    )


async def test_a_correct_seed_is_verified_by_executed_tests_with_early_stop(engine_backend: Any) -> None:
    task = repair_task(
        [Seed(answer=WRONG, description="* instead of -"), Seed(answer=FIXED, description="+")]
    )
    config = SearchConfig(strategy="best_of_n", n=4, single_step=True)
    async with open_sandbox(SandboxSettings(kind="docker")) as sandbox:
        verifier = CodeVerifier(sandbox, limits=Limits(timeout_s=30.0))
        result = await run_search(task, config, backend=engine_backend, verifier=verifier)
    assert result.verified and result.status == "verified" and result.stop_reason == "verified"
    assert result.answer == FIXED and result.source == "mutation"
    assert result.spend.expansions == 0, "early stop: the model is not asked once a seed passes"
    wrong, fixed = result.candidates
    assert (wrong["gate"], fixed["gate"]) == ("fail", "pass")
    failed = next(n for n in result.tree["nodes"] if n["id"] == wrong["node_id"])
    assert "test_add" in failed["evidence"]["feedback"]


async def test_refinement_shows_the_model_its_executed_failure(engine_backend: Any) -> None:
    task = repair_task([])
    config = SearchConfig(
        strategy="refine",
        refine_rounds=1,
        single_step=True,
        max_step_tokens=64,
        temperature=0.0,
        budget=Budget(max_expansions=2, max_tokens=None, max_seconds=None),
    )
    async with open_sandbox(SandboxSettings(kind="docker")) as sandbox:
        verifier = CodeVerifier(sandbox, limits=Limits(timeout_s=30.0))
        result = await run_search(task, config, backend=engine_backend, verifier=verifier)
    nodes = {n["id"]: n for n in result.tree["nodes"]}
    first = nodes["n1"]
    assert first["terminal"] and first["gate"] in ("pass", "fail")
    assert result.spend.tokens_generated > 0 and result.spend.verifier_calls >= 1
    if first["gate"] == "pass":
        assert result.verified and result.spend.expansions == 1
    else:
        # The second attempt was conditioned on the first one's executed failure.
        second = nodes["n2"]
        assert second["parent"] == "n0" and second["feedback"] == first["evidence"]["feedback"]
        assert result.spend.expansions == 2
    chosen = nodes[result.node_id] if result.node_id else None
    assert result.verified == (chosen is not None and chosen["gate"] == "pass")
