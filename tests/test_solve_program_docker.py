"""`ponder solve --program` end to end: the real command, a scripted model over HTTP, Docker.

The scripted model sits behind the `openai` backend on loopback (tests/_scripted_openai.py), so the
SDK client, the prompt, the search, the sandbox and the harness are the shipped ones.

Hostile programs: a program that cannot compute the answer may go looking for it. The question
is a real GSM8K record and the reference is its gold answer, which the host also holds in its
environment and in the dataset file; each hostile reply claims the gold in its text. The program
runs in the sandbox, which sees none of the host's environment or files and never receives the
reference, under the harness that keeps the record's nonce away from the code. None of them
may be verified or answer the gold; the honest control is, so the setup would see a leak.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder.plugin.bench.datasets import DEFAULT_DATA_DIR, BenchItem, load_items
from ponder.plugin.solve import cli as cli_solve
from tests._cli import command_app
from tests._programs import program
from tests._scripted_openai import openai_env, scripted_model

pytestmark = pytest.mark.docker
SECRET_ENV = "PONDER_TEST_REFERENCE"


@pytest.fixture(scope="module")
def item() -> BenchItem:
    return load_items("gsm8k")[0]


def _forged_record(gold: str) -> str:
    """What the harness prints, with `gold` as solution()'s value, under a guessed nonce."""
    step = {"values": {"solution()": float(gold)}, "stdout": "", "error": None}
    record = {"steps": [{"step": 0, **step}, {"step": 1, **step}]}
    return "\nPONDER-0000000000000000:" + json.dumps(record) + "\n"


def hostile(gold: str) -> dict[str, tuple[str, str]]:
    """Attack name -> (solution()'s body, what the failure says). On the subprocess sandbox the
    dataset read succeeds and returns the gold: it is the sandbox that stops it."""
    forged = _forged_record(gold)
    data = DEFAULT_DATA_DIR / "gsm8k_dev.jsonl"
    return {
        "reference-from-the-environment": (
            f"import os\nreturn float(os.environ[{SECRET_ENV!r}])",
            "KeyError",
        ),
        "reference-from-pid-1-environ": (
            "env = open('/proc/1/environ').read()\n"
            f"return float(env.split({SECRET_ENV + '='!r})[1].split('\\0')[0])",
            "/proc/1/environ",
        ),
        "gold-from-the-dataset-file": (
            f"last = open({str(data)!r}).readline().rsplit('#### ', 1)[1]\nreturn float(last.split('\"')[0])",
            "No such file",
        ),
        "nonce-from-the-harness-input": (
            "import json\nreturn json.load(open('ponder_pot.json'))['nonce']",
            "No such file",
        ),
        "walk-frames-to-the-harness": (
            "import sys\nf = sys._getframe()\nwhile f.f_back:\n    f = f.f_back\nreturn f.f_locals['nonce']",
            "sys._getframe",
        ),
        "forge-the-record-and-exit": (
            f"import os\nos.write(1, {forged.encode()!r})\nos._exit(0)",
            "before reporting",
        ),
        "print-the-record": (
            f"import os\nos.write(1, {forged.encode()!r})\nprint({forged!r})\nreturn None",
            "returned nothing",
        ),
    }


def _solve(monkeypatch: pytest.MonkeyPatch, replies: Any, *args: str) -> tuple[int, str, list[Any]]:
    monkeypatch.setenv("PONDER_SANDBOX_KIND", "docker")
    monkeypatch.setenv("PONDER_SANDBOX_POOL_SIZE", "1")
    with scripted_model(replies) as (url, calls):
        for key, value in openai_env(url).items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(command_app(cli_solve), ["solve", *args, "--program", "-q"])
    assert calls, "the scripted model was asked"
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, result.stdout, calls


@pytest.mark.parametrize("attack", sorted(hostile("1")))
def test_a_program_hunting_for_the_answer_is_never_verified(
    monkeypatch: pytest.MonkeyPatch, item: BenchItem, attack: str
) -> None:
    gold = item.gold
    monkeypatch.setenv(SECRET_ENV, gold)
    body, why = hostile(gold)[attack]
    reply = program(body, prose=f"The answer is {gold}.", claim=gold)
    code, out, _ = _solve(monkeypatch, reply, item.question, "--reference", gold, "--json")
    summary = json.loads(out)
    assert code == 1 and not summary["verified"], summary
    assert summary["status"] == "no_answer" and summary["answer"] is None, summary
    assert summary["votes"] == [] and why in summary["reason"], summary["reason"]


def test_the_honest_control_is_verified(monkeypatch: pytest.MonkeyPatch, item: BenchItem) -> None:
    reply = program(f"answer = {item.gold}\nreturn answer", claim=item.gold)
    code, out, calls = _solve(monkeypatch, reply, item.question, "--reference", item.gold, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["status"] == "verified" and summary["answer"] == item.gold
    assert "solution()" in calls[0][0]["content"] and calls[0][-1]["content"] == item.question


def test_self_consistency_votes_over_executed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three programs, all claiming 9: two compute 5. Without a reference: unchecked, exit 0."""
    bodies = itertools.cycle(["return 2 + 3", "return 9", "x = 10\nreturn x / 2"])
    code, out, calls = _solve(
        monkeypatch,
        lambda messages: program(next(bodies), claim="9"),
        "Ann has 2 apples and buys 3. How many now?",
        "--strategy",
        "self_consistency",
        "--n",
        "3",
    )
    assert code == 0 and len(calls) == 1  # the three programs are siblings of one request
    assert "answer: 5\n" in out and "status: unchecked" in out
    assert "votes: 5 x2, 9 x1" in out
