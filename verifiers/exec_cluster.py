"""Execution-based clustering of code candidates (CodeT / AlphaCode): agree on outputs, not text.

Two programs that return the same values on the same inputs are, as far as anyone can tell
without the hidden tests, the same answer; a wrong idea tends to be wrong in its own way. So
every candidate is run on probe inputs (the visible examples' inputs plus small variations of
them: neighbouring ints, a shorter and a longer list or string), its outputs on them are its
signature, and candidates with equal signatures form one cluster. A cluster is ranked by CodeT's
dual agreement: its size times the visible examples its members pass (a cluster passing none is
ranked by size alone, below every cluster that passes one).

All candidates of a task run in one sandbox run, each in its own interpreter with its own time
limit; the driver collects their outputs and prints them under a per-run marker the candidates
never see. Only the driver and literal inputs travel in; no hidden test is ever run here.
"""

from __future__ import annotations

import ast
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.types import Limits
from ponder.verifiers.visible_tests import VisibleCase

MAX_PROBES = 24
"""Inputs per candidate: the visible ones first, then variations up to this many."""
CALL_TIMEOUT_S = 2.0
"""One probe call; a candidate that loops forever gets "!Timeout" there and for every later probe."""
CANDIDATE_TIMEOUT_S = 15.0
"""One candidate's whole probe run (its interpreter is killed after this)."""
OUTPUT_CHARS = 300
"""A result's repr is cut to this: long outputs that agree this far agree for clustering."""
NO_RESULT = "!NoResult"
"""The signature entry of a candidate whose interpreter died before it reported."""

_PROBE = """\
import copy, json, signal, sys

ARGS = json.loads(sys.argv[2])
source = open(sys.argv[1], encoding="utf-8").read()
marker = sys.argv[3]


def _timeout(signum, frame):
    raise TimeoutError


signal.signal(signal.SIGALRM, _timeout)
out = []
try:
    namespace = {"__name__": "candidate"}
    exec(compile(source, "candidate.py", "exec"), namespace)
    func = namespace[ENTRY]
except BaseException as exc:  # the module itself is broken: every probe gets that exception
    out = ["!" + type(exc).__name__] * len(ARGS)
else:
    import ast
    for text in ARGS:
        if out and out[-1] == "!Timeout":  # one call ran out of time: the rest would too, skip them
            out.append("!Timeout")
            continue
        signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
        try:
            value = func(*ast.literal_eval(text))
            out.append("=" + repr(value)[:CHARS])
        except TimeoutError:
            out.append("!Timeout")
        except BaseException as exc:
            out.append("!" + type(exc).__name__)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
sys.stdout.flush()
print("\\n" + marker + json.dumps(out))
"""

_DRIVER = """\
import json, subprocess, sys

ARGS, COUNT, MARKER, CHILD = {args!r}, {count}, {marker!r}, {child!r}
results = []
for k in range(COUNT):
    try:
        done = subprocess.run(
            [sys.executable, "-I", "probe.py", f"cand_{{k}}.py", ARGS, CHILD],
            capture_output=True, text=True, timeout={timeout},
        )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith(CHILD)]
        results.append(json.loads(lines[-1][len(CHILD):]) if lines else None)
    except (subprocess.TimeoutExpired, ValueError):
        results.append(None)
print(MARKER + json.dumps(results))
"""


@dataclass(frozen=True, slots=True)
class Cluster:
    """Candidates (indices into the list clustered) that returned the same on every probe."""

    members: tuple[int, ...]
    signature: tuple[str, ...]
    visible_passed: int
    """Visible examples the members pass (equal outputs, so the same for every member)."""
    visible_total: int

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def passes_visible(self) -> bool:
        """Survives the visible examples: there are some, and every one passes."""
        return self.visible_total > 0 and self.visible_passed == self.visible_total

    @property
    def agreement(self) -> int:
        """CodeT's dual agreement, size × visible passed (size alone when no example passes)."""
        return self.size * self.visible_passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "members": list(self.members),
            "size": self.size,
            "visible_passed": self.visible_passed,
            "visible_total": self.visible_total,
        }


def probe_inputs(cases: Sequence[VisibleCase], limit: int = MAX_PROBES) -> list[tuple[Any, ...]]:
    """Every visible example's arguments, in order (signatures line up with `cases`), then
    one-argument variations of them not seen yet, up to `limit` probes in all."""
    visible = [c.args for c in cases]
    seen = {repr(a) for a in visible}
    extra: list[tuple[Any, ...]] = []
    for args in (v for c in cases for v in variations(c.args)):
        if repr(args) not in seen:
            seen.add(repr(args))
            extra.append(args)
    return visible + extra[: max(0, limit - len(visible))]


def variations(args: tuple[Any, ...]) -> Iterable[tuple[Any, ...]]:
    """Each argument changed a little while the others stay: the inputs a spec is least explicit
    about (one off, one shorter, one longer, reversed) are where wrong programs part ways."""
    for i, arg in enumerate(args):
        for changed in _nudges(arg):
            yield (*args[:i], changed, *args[i + 1 :])


def _nudges(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, value * 2]
    if isinstance(value, float):
        return [value + 0.5, value * 2]
    if isinstance(value, str):
        return [value[:-1], value + value[-1:], value[::-1]] if value else ["a"]
    if isinstance(value, list | tuple):
        kind = type(value)
        return [kind(value[:-1]), kind([*value, *value[:1]]), kind(value[::-1])] if value else []
    return []


def cluster(signatures: Sequence[Sequence[str]], cases: Sequence[VisibleCase]) -> list[Cluster]:
    """Candidates grouped by equal signatures, best first (agreement, size, earliest member).

    `signatures[i]` is candidate i's outputs on the probes, the visible examples' inputs first
    (as `probe_inputs` orders them): "=<repr>" for a value, "!<ExceptionType>" for an exception.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, signature in enumerate(signatures):
        groups.setdefault(tuple(signature), []).append(index)
    clusters = [
        Cluster(tuple(members), sig, _visible_passed(sig, cases), len(cases))
        for sig, members in groups.items()
    ]
    return sorted(clusters, key=lambda c: (-c.agreement, -c.visible_passed, -c.size, c.members[0]))


def first_failure(signature: Sequence[str], cases: Sequence[VisibleCase]) -> str | None:
    """The model-facing line for the first visible example this signature gets wrong, if any."""
    for out, case in zip(signature, cases, strict=False):
        if not _passes(out, case):
            return case.feedback(_outcome(out))
    return None


def _outcome(out: str) -> str:
    if out.startswith("="):
        return f"returned {out[1:]}"
    if out == "!Timeout":
        return f"did not return within {CALL_TIMEOUT_S:g} s"
    if out == NO_RESULT:
        return "did not finish (the interpreter was killed or ran out of time)"
    return f"raised {out[1:]}"


def _visible_passed(signature: Sequence[str], cases: Sequence[VisibleCase]) -> int:
    return sum(_passes(out, case) for out, case in zip(signature, cases, strict=False))


def _passes(out: str, case: VisibleCase) -> bool:
    if not out.startswith("="):
        return False
    try:
        value = ast.literal_eval(out[1:])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False  # not plain data (an object, a generator): not the literal the example states
    return case.passes(value)


async def run_probes(
    sandbox: BaseSandbox,
    sources: Sequence[str],
    entry_point: str,
    probes: Sequence[tuple[Any, ...]],
) -> list[list[str]]:
    """Each source's outputs on `probes`, all candidates in one sandbox run.

    A candidate whose interpreter did not report (killed, timed out as a whole, or the run itself
    failed) gets `NO_RESULT` for every probe, so it clusters only with others that died too.
    """
    if not sources:
        return []
    marker, child = f"@@probe-{secrets.token_hex(8)}@@", f"@@cand-{secrets.token_hex(8)}@@"
    arg_texts = json.dumps([repr(tuple(p)) for p in probes])
    probe = f"ENTRY, TIMEOUT, CHARS = {entry_point!r}, {CALL_TIMEOUT_S}, {OUTPUT_CHARS}\n" + _PROBE
    driver = _DRIVER.format(
        args=arg_texts, count=len(sources), marker=marker, child=child, timeout=CANDIDATE_TIMEOUT_S
    )
    files = {"driver.py": driver, "probe.py": probe} | {f"cand_{k}.py": s for k, s in enumerate(sources)}
    limits = Limits(timeout_s=30.0 + CANDIDATE_TIMEOUT_S * len(sources), memory_mb=1024, pids=256)
    ran = await sandbox.run(files, ["python3", "-I", "driver.py"], limits)
    lines = [ln for ln in ran.stdout.splitlines() if ln.startswith(marker)]
    reported: list[Any] = json.loads(lines[-1][len(marker) :]) if lines else []
    dead = [NO_RESULT] * len(probes)
    return [
        list(r) if isinstance(r, list) and len(r) == len(probes) else dead
        for r in reported + [None] * (len(sources) - len(reported))
    ]


async def execution_clusters(
    sandbox: BaseSandbox,
    sources: Sequence[str],
    entry_point: str,
    cases: Sequence[VisibleCase],
    extra: Sequence[tuple[Any, ...]] = (),
) -> list[Cluster]:
    """`sources` run on the visible examples and their variations (plus `extra` inputs), clustered."""
    probes = probe_inputs(cases)
    probes += [p for p in extra if p not in probes]
    return cluster(await run_probes(sandbox, sources, entry_point, probes), cases)


__all__ = [
    "CALL_TIMEOUT_S",
    "MAX_PROBES",
    "NO_RESULT",
    "Cluster",
    "cluster",
    "execution_clusters",
    "first_failure",
    "probe_inputs",
    "run_probes",
    "variations",
]
