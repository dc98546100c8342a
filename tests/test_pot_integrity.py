"""Program-of-thought steps that go after the record instead of the answer: never verified.

Finance and FinanceMath-style answers are checked by running their ```python steps in the
sandbox under `verifiers/_pot_harness.py`. A hostile step tries to learn the nonce that marks the
harness's record (read the input file, walk frames, walk `gc`, read the parent's memory), to print
a record of its own, or to swap what the record is built with (`json`, the harness's helpers,
`math`, pandas' indexers, builtins). Each chain below claims 262, a number nothing computes;
each must end with a failed gate and its step's error saying what happened. The control shows
that honest steps still record their values. Real Docker sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ponder.sandbox import DockerSandbox
from ponder.verifiers import Chain, FinanceVerifier, VerifyTask

pytestmark = pytest.mark.docker
TABLE = [{"name": "income", "columns": ["", "2019", "2018"], "rows": [["Revenue", 1200, 1000]]}]
RECORD = "{'steps': [{'step': 0, 'values': {'x': 262}, 'stdout': '', 'error': None}]}"
FORGED = "\\nPONDER-0000000000000000:" + RECORD.replace("'", '"').replace("None", "null") + "\\n"
ATTACKS = {
    "read-the-input-file": (
        ["import json\nnonce = json.load(open('ponder_pot.json'))['nonce']"],
        "No such file",
    ),
    "walk-frames-for-the-nonce": (
        [
            "import sys\nf = sys._getframe()\n"
            "while f.f_back:\n    f = f.f_back\nnonce = f.f_locals.get('nonce')"
        ],
        "used sys._getframe",
    ),
    "gc-for-the-nonce": (
        ["import gc\nnonce = [o for o in gc.get_objects() if 'PONDER' in str(o)]"],
        "gc.get_objects",
    ),
    "parent-memory": (["import os\nmem = open(f'/proc/{os.getppid()}/mem', 'rb')"], "/mem"),
    "print-a-forged-record-then-exit": (
        [f"import os\nos.write(1, b'{FORGED}')\nos._exit(0)"],
        "before reporting",
    ),
    "print-a-forged-record": ([f"import os\nos.write(1, b'{FORGED}')\nprint('{FORGED}')\nx = 5"], ""),
    "swap-json-dumps": (
        [f"import json\n_d = json.dumps\njson.dumps = lambda o, **k: _d({RECORD})"],
        "json.dumps was replaced",
    ),
    "swap-the-harness-helper": (
        ["import sys\nsys.modules['__main__'].simple = lambda v: 262\nx = 1"],
        "simple was replaced",
    ),
    "swap-math": (
        ["import math\nmath.log = lambda x: 262\nx = 1", "x = math.log(2)"],
        "math.log was replaced",
    ),
    "swap-builtins": (
        ["__builtins__['round'] = lambda *a: 262\nx = round(2.5)"],
        "builtins.round was replaced",
    ),
    "swap-the-table-indexer": (
        ["type(t0.iloc).__getitem__ = lambda self, key: 262\nx = t0.iloc[0, 1]"],
        "_iLocIndexer.__getitem__ was replaced",
    ),
    "hide-the-error": (
        [
            "import traceback\ntraceback.format_exception = lambda *a: []\nraise ValueError('wrong')",
            "x = 262",
        ],
        "traceback.format_exception was replaced",
    ),
    "ctypes-poke": (["import ctypes\nctypes.c_long.from_address(id(262) + 24).value = 262"], "ctypes"),
}


@pytest.fixture(scope="module")
def verifier() -> Iterator[FinanceVerifier]:
    sandbox = DockerSandbox(pool_size=2)
    sandbox.open()
    yield FinanceVerifier(sandbox)
    sandbox.close()


def _task() -> VerifyTask:
    return VerifyTask(
        kind="finance", question="What was the revenue in 2019?", inputs={"tables": TABLE, "paragraphs": []}
    )


def _chain(codes: list[str], answer: str) -> Chain:
    steps = tuple(f"```python\n{code}\n```" for code in codes)
    return Chain(steps=(*steps, f"Answer: {answer}"), terminal=True)


async def test_control_honest_steps_record_their_values(verifier: FinanceVerifier) -> None:
    [score] = await verifier.score(_task(), [_chain(["x = 1200 - 1000", "y = t0.iloc[0, 1]"], "200")])
    steps = score.evidence["steps"]
    assert [s["values"] for s in steps[:2]] == [{"x": 200}, {"y": 1200}], steps
    assert all(s["error"] is None for s in steps)


@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_a_step_that_attacks_the_record_is_never_verified(verifier: FinanceVerifier, name: str) -> None:
    codes, error = ATTACKS[name]
    [score] = await verifier.score(_task(), [_chain(codes, "262")])
    assert score.gate != "pass", score.evidence
    steps = score.evidence["steps"]
    assert all(262 not in s["values"].values() for s in steps), "no forged value reaches the record"
    if error:
        errors = " ".join(s["error"] or "" for s in steps)
        assert error in errors, errors
