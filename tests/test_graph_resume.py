"""A search killed mid-way (SIGKILL, no cleanup) resumes from its SQLite checkpoint by thread id,
without generating again the expansions it had completed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ponder.graph import SearchConfig, build_search_graph, open_checkpointer, run_search
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
                raise AssertionError(f"search process ended early: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.01)
        else:
            raise AssertionError("search process made no progress within 60 s")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


async def test_killed_search_resumes_without_redoing_expansions(tmp_path: Path) -> None:
    db = tmp_path / "search.sqlite"
    run_until_call(db, tmp_path / "progress", call=4)

    backend = ScriptedBackend(path_policy(6))
    verifier = ScriptedVerifier(neutral)
    async with open_checkpointer(db) as saver:
        graph = build_search_graph(backend=backend, verifier=verifier, config=CONFIG, checkpointer=saver)
        snapshot = await graph.aget_state({"configurable": {"thread_id": "killed"}})
    saved = snapshot.values["nodes"]
    assert snapshot.next, "the killed search must not look finished"
    # Three rounds (2 chains each) completed before the kill; the fourth was in flight.
    assert len(saved) == 1 + 3 * CONFIG.n

    result = await run_search(
        text_task(), CONFIG, backend=backend, verifier=verifier, checkpointer=db, thread_id="killed"
    )
    assert backend.log.generate_calls == ROUNDS - 3, "completed expansions must not be generated again"
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
