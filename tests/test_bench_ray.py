"""`ponder bench --ray` on a local Ray cluster: the same JSONL as a local run, and the same resume.

The model is scripted (an OpenAI-compatible server on loopback that the Ray workers reach like any
backend), so every unit's outcome is fixed in advance: odd items are answered wrongly, and the
summary must say so whichever worker ran them. `seconds` is wall time and the only field allowed
to differ between the two runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder.plugin.bench import cli as cli_bench
from ponder.plugin.bench.datasets import load_items
from ponder.plugin.bench.ray_runner import RayUnavailableError, import_ray
from ponder.plugin.bench.store import RESULTS_FILE
from tests._cli import command_app
from tests._scripted_openai import openai_env, scripted_model

LIMIT = 4
ARGS = ["bench", "--suite", "gsm8k", "--limit", str(LIMIT), "--strategies", "greedy,self_consistency"]
ARGS += ["--budgets", "300", "--n", "3", "--quiet"]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A two-CPU Ray cluster on this machine, for the module (starting one takes seconds)."""
    ray = pytest.importorskip("ray", reason="needs the `scale` extra: pip install 'ponder[scale]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def gsm8k_reply() -> Any:
    """Even items answered with their gold number, odd ones with gold + 7, always the same text."""
    items = load_items("gsm8k")[:LIMIT]
    answers = {i.question: int(i.gold) + (7 if k % 2 else 0) for k, i in enumerate(items)}

    def reply(messages: list[dict[str, Any]]) -> str:
        user = next(str(m["content"]) for m in messages if m["role"] == "user")
        answer = next(a for q, a in answers.items() if q in user)
        return f"Step 1: work it out.\n\nAnswer: {answer}"

    return reply


def rows(folder: Path) -> list[dict[str, Any]]:
    """The results in file order, wall time left out (a line cut short by a crash is no result)."""
    out = []
    for line in (folder / RESULTS_FILE).read_text().splitlines():
        try:
            out.append({k: v for k, v in json.loads(line).items() if k != "seconds"})
        except json.JSONDecodeError:
            continue
    return out


def bench(out: Path, url: str, *extra: str) -> Any:
    result = CliRunner().invoke(
        command_app(cli_bench), [*ARGS, "--out", str(out), *extra], env=openai_env(url)
    )
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ray_run_writes_the_local_jsonl_and_resumes_like_it(ray_cluster: Any, tmp_path: Path) -> None:
    with scripted_model(gsm8k_reply()) as (url, calls):
        bench(tmp_path / "local", url)
        local_calls = len(calls)
        spread = bench(tmp_path / "ray", url, "--ray", "local")
        assert len(calls) == 2 * local_calls, "the Ray run asked the model what the local run asked"
        expected = rows(tmp_path / "local")
        assert len(expected) == 2 * LIMIT and rows(tmp_path / "ray") == expected
        assert [r["correct"] for r in expected if r["strategy"] == "greedy"] == [True, False] * (LIMIT // 2)
        assert "| gsm8k | greedy | 300 | 4 | 50.0%" in spread.stdout  # the summary, from the same rows

        # Cut short mid-line, as a crash leaves it: only the missing units run again, in order.
        path = tmp_path / "ray" / RESULTS_FILE
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:30])
        before = len(calls)
        bench(tmp_path / "ray", url, "--ray", "local")
        assert rows(tmp_path / "ray") == expected
        assert 0 < len(calls) - before < local_calls

        # Nothing left to run: no unit goes anywhere.
        before = len(calls)
        bench(tmp_path / "ray", url, "--ray", "ray://127.0.0.1:1")
        assert len(calls) == before


def test_without_ray_installed_the_error_names_the_extra(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(RayUnavailableError) as missing:
        import_ray()
    assert str(missing.value) == "`--ray` needs Ray, which is not installed: pip install 'ponder[scale]'"
    with scripted_model("Answer: 1") as (url, _):
        args = [*ARGS, "--out", str(tmp_path), "--ray", "local"]
        result = CliRunner().invoke(command_app(cli_bench), args, env=openai_env(url))
    assert result.exit_code != 0
    [line] = result.output.splitlines()
    assert line.startswith("error: `--ray` needs Ray, which is not installed: pip install")
