"""A search killed mid-way (SIGKILL, no cleanup) resumes from its SQLite checkpoint by thread id,
without generating again the expansions it had completed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ponder.graph import SearchConfig, SearchContext, build_search_graph, open_checkpointer, run_search
from ponder.graph.testing import ScriptedBackend, ScriptedVerifier, path_policy, text_task
from ponder.verifiers.types import Chain, StepScore

CONFIG = SearchConfig(strategy="best_of_n", n=2, max_depth=8)
ROUNDS = 6  # path_policy(6): every chain answers at its 6th step; one generate call per round


def neutral(chain: Chain) -> StepScore:
    return StepScore(score=0.5)


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from ponder.graph import SearchConfig, run_search
    from ponder.graph.testing import ScriptedBackend, ScriptedVerifier, path_policy, text_task
    from ponder.verifiers.types import StepScore

    progress = Path(sys.argv[2])
    backend = ScriptedBackend(
        path_policy(6), delay=0.5, on_generate=lambda log: progress.write_text(str(log.generate_calls))
    )
    config = SearchConfig.model_validate_json(sys.argv[3])
    verifier = ScriptedVerifier(lambda chain: StepScore(score=0.5))
    asyncio.run(run_search(text_task(), config, backend=backend, verifier=verifier,
                           checkpointer=sys.argv[1], thread_id="killed"))
    """
)


def run_until_call(db: Path, progress: Path, call: int) -> None:
    """Start the search in a child process and SIGKILL it while its `call`-th generate is in flight."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(progress), CONFIG.model_dump_json()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if progress.exists() and progress.read_text() and int(progress.read_text()) >= call:
                break
            if proc.poll() is not None:
                _, err = proc.communicate()
                raise AssertionError(f"search process ended early: {err.decode()[-2000:]}")
            time.sleep(0.01)
        else:
            raise AssertionError("search process made no progress within 60 s")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)


async def test_killed_search_resumes_without_redoing_expansions(tmp_path: Path) -> None:
    db = tmp_path / "search.sqlite"
    run_until_call(db, tmp_path / "progress", call=4)

    backend = ScriptedBackend(path_policy(6))
    verifier = ScriptedVerifier(neutral)
    async with open_checkpointer(db) as saver:
        graph = build_search_graph(checkpointer=saver)
        snapshot = await graph.aget_state({"configurable": {"thread_id": "killed"}})
    saved = snapshot.values["nodes"]
    assert snapshot.next, "the killed search must not look finished"
    # At least three rounds (2 chains each) completed before the kill; the fourth was in flight
    # (it sleeps 0.5 s, so on a loaded machine a round more may have slipped through).
    saved_rounds, rest = divmod(len(saved) - 1, CONFIG.n)
    assert rest == 0 and 3 <= saved_rounds < ROUNDS

    result = await run_search(
        text_task(), CONFIG, backend=backend, verifier=verifier, checkpointer=db, thread_id="killed"
    )
    assert backend.log.generate_calls == ROUNDS - saved_rounds, "completed expansions must not be redone"
    assert all(r.token_ids is not None for r in backend.log.requests)  # continued from saved token ids
    assert result.spend.expansions == ROUNDS * CONFIG.n
    exported = {n["id"]: n for n in result.tree["nodes"]}
    for nid, node in saved.items():
        assert exported[nid]["step"] == node["step"] and exported[nid]["parent"] == node["parent"]

    # Same tree as a search that was never interrupted.
    fresh = await run_search(
        text_task(), CONFIG, backend=ScriptedBackend(path_policy(6)), verifier=ScriptedVerifier(neutral)
    )
    assert [(n["id"], n["step"]) for n in fresh.tree["nodes"]] == [
        (n["id"], n["step"]) for n in result.tree["nodes"]
    ]

    # A finished thread returns its stored result instead of searching again.
    again = ScriptedBackend(path_policy(6))
    stored = await run_search(
        text_task(), CONFIG, backend=again, verifier=verifier, checkpointer=db, thread_id="killed"
    )
    assert again.log.generate_calls == 0 and stored.answer == result.answer


async def test_the_graph_runs_as_a_plain_langgraph_with_any_checkpointer() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from ponder.graph import SearchResult

    saver = InMemorySaver()
    backend = ScriptedBackend(path_policy(3))
    graph = build_search_graph(checkpointer=saver)
    context = SearchContext(backend=backend, verifier=ScriptedVerifier(neutral), config=CONFIG)
    run = {"configurable": {"thread_id": "plain"}, "recursion_limit": 1000}
    final = await graph.ainvoke({"task": text_task().model_dump(mode="json")}, run, context=context)
    result = SearchResult.model_validate(final["result"])
    assert result.spend.expansions == 3 * CONFIG.n and result.answer is not None
    # Runtime objects never reach the checkpoint: every saved state is plain JSON.
    history = [snap async for snap in graph.aget_state_history(run)]
    assert len(history) > 5
    for snap in history:
        json.dumps(snap.values)
