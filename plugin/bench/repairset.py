"""The dev repair set as a suite: small buggy projects, repaired three ways, judged by hidden tests.

Each case under ``benchmarks/repair_set/<name>/`` is a folder of its own::

    project/    what `ponder repair` reads: modules or packages, the visible tests, their data files
    hidden/     the case's own judge: more tests, never shown to the repair
    fixed/      the reference fix (the changed files only), which passes both
    task.json   {"kind": bug kind, "shape": ..., "fix": the one-line fix, "edits": 1 or 2}

Every case is run in three modes, one result line each (item id ``<name>@<mode>``):

=========  ==================================================================================
model      the model alone (no mutation seeds)
mutations  the mutation operators alone: the search gets a backend that proposes nothing
ranked     the mutation operators, tested in the order the model ranks them; the model writes
           nothing (`ponder.plugin.repair.mutant_rank`): what the ranking saves in test runs
both       the model and the mutants in one tree, as `ponder repair` runs by default
=========  ==================================================================================

``--suite repair`` runs all three; ``--suite repair:mutations`` (or ``repair:model,both``) runs the
named ones. A fix is *verified* when the repair says so (its tests pass in the sandbox) and
*correct* when the files it would write pass the visible and the hidden tests together; a repair
that verifies nothing writes nothing, so it is never correct.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from ponder.backends.base import BaseBackend, Capabilities, Completion, GenerationRequest
from ponder.plugin.bench.datasets import BenchDataError, BenchItem
from ponder.plugin.repair.project import Project, load_project
from ponder.plugin.runtime import Runtime
from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.types import Limits

Mode = Literal["model", "mutations", "ranked", "both"]
MODES: tuple[Mode, ...] = get_args(Mode)
SUITE = "repair"
DEFAULT_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "repair_set"
"""`<clone>/benchmarks/repair_set`; `--data` points elsewhere."""
DEFAULT_MUTANTS = 24
"""Mutation seeds per case when the plan gives none (`--mutants 0`): `ponder repair`'s default,
since a mutations mode without mutants would measure nothing."""
JUDGE_LIMITS = Limits(timeout_s=30.0, test_timeout_s=5.0, memory_mb=512)
"""The hidden check runs once per verified fix; a fix that still hangs fails on its own test."""


@dataclass(frozen=True, slots=True)
class RepairCase:
    """One buggy project of the set, with its hidden judge and its reference fix."""

    name: str
    root: Path
    kind: str
    fix: str
    edits: int

    @property
    def project_dir(self) -> Path:
        return self.root / "project"

    def project(self) -> Project:
        return load_project(self.project_dir)

    def hidden_tests(self) -> dict[str, str]:
        """The hidden test files, keyed as they sit in the sandbox (beside the visible tests)."""
        return _texts(self.root / "hidden")

    def fixed_files(self) -> dict[str, str]:
        """The reference fix: new text of each file it changes, keyed like `Project.sources`."""
        return _texts(self.root / "fixed")


def _texts(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def load_cases(folder: Path | None = None) -> list[RepairCase]:
    """Every case folder (one with ``project/`` and ``task.json``) under `folder`, by name.

    Raises:
        BenchDataError: no such folder, no cases, or a case without its hidden tests or its fix.
    """
    folder = folder or DEFAULT_SET
    if not folder.is_dir():
        raise BenchDataError(f"{folder} is not a folder; pass the repair set's folder with --data")
    cases = [read_case(root) for root in sorted(p for p in folder.iterdir() if (p / "project").is_dir())]
    if not cases:
        raise BenchDataError(f"no repair cases (folders with project/ and task.json) in {folder}")
    return cases


def read_case(root: Path) -> RepairCase:
    """The case in folder `root`.

    Raises:
        BenchDataError: its task.json is missing or incomplete, or hidden/ or fixed/ is missing or
            would shadow a project file.
    """
    try:
        meta = json.loads((root / "task.json").read_text(encoding="utf-8"))
        case = RepairCase(root.name, root, str(meta["kind"]), str(meta["fix"]), int(meta["edits"]))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BenchDataError(
            f"{root}/task.json: {type(exc).__name__}: {exc}; give it kind, fix and edits"
        ) from exc
    for part in ("hidden", "fixed"):
        if not (root / part).is_dir():
            raise BenchDataError(f"{root} has no {part}/ folder; every case needs its {part} files")
    shown = {p.relative_to(case.project_dir).as_posix() for p in case.project_dir.rglob("*") if p.is_file()}
    clash = sorted(set(case.hidden_tests()) & shown)
    if clash:
        raise BenchDataError(f"{root}: hidden/{clash[0]} would replace a project file; rename it")
    return case


def parse_modes(suite: str) -> tuple[Mode, ...]:
    """The modes a suite name asks for: ``repair`` = all, ``repair:mutations,both`` = those.

    Raises:
        BenchDataError: an unknown mode.
    """
    _, _, wanted = suite.partition(":")
    if not wanted:
        return MODES
    names = list(dict.fromkeys(m.strip() for m in wanted.split(",") if m.strip()))
    unknown = [m for m in names if m not in MODES] or ([] if names else [wanted])
    if unknown:
        raise BenchDataError(
            f"unknown repair mode {unknown[0]!r}; name any of {', '.join(MODES)}, "
            f"comma-separated (e.g. --suite {SUITE}:mutations,both)"
        )
    return tuple(cast(Mode, m) for m in names)


def load_items(suite: str, folder: Path | None = None) -> list[BenchItem]:
    """One item per (case, mode), case by case, so a run cut short has every mode of its cases."""
    modes = parse_modes(suite)
    return [
        BenchItem(
            suite=suite,
            item_id=f"{case.name}@{mode}",
            question=f"repair {case.name} ({case.kind})",
            gold=case.fixed_files(),
            record={"case": case.name, "mode": mode, "root": str(case.root), "kind": case.kind},
        )
        for case in load_cases(folder)
        for mode in modes
    ]


def case_of(item: BenchItem) -> RepairCase:
    """The case an item was loaded from."""
    return read_case(Path(item.record["root"]))


def mode_of(item: BenchItem) -> Mode:
    return cast(Mode, item.record["mode"])


def mutants_for(mode: Mode, plan_mutants: int) -> int:
    """Mutation seeds for `mode`: none for the model alone, else the plan's (or the default)."""
    if mode == "model":
        return 0
    return plan_mutants or DEFAULT_MUTANTS


def writes(mode: Mode) -> bool:
    """Whether the model writes edits in `mode` (in "ranked" it only orders the mutants)."""
    return mode != "ranked"


class SilentBackend(BaseBackend):
    """A backend that answers every request with no samples, so a search sees only its seeds.

    The mutations-only mode needs a search without model expansions, and a budget cannot say
    "zero expansions" (`Budget.max_expansions` >= 1); with nothing proposed, the strategy runs
    out of chains after the seeds and the search ends with no model tokens spent.
    """

    name = "none"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            logprobs=False, top_logprobs=False, n=True, token_ids=False, prefix_cache=False, seed=True
        )

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        return [[] for _ in requests]


def count_test_runs(tree: dict[str, Any]) -> int:
    """Candidates whose tests the search actually ran in the sandbox (verdicts served from the
    verifier's cache, refused patches and unrun waves excluded); the baseline and the confirming
    run are not candidates."""
    return sum(
        1
        for n in tree.get("nodes", [])
        if isinstance(n.get("evidence"), dict) and n["evidence"].get("cached") is False
    )


async def check_fix(item: BenchItem, patched: dict[str, str] | None, sandbox: BaseSandbox) -> bool:
    """Whether the files a repair would write make the case's visible and hidden tests all pass.

    `patched` None or empty means nothing would be written, which is never a fix.
    """
    if not patched:
        return False
    case = case_of(item)
    project = case.project()
    unknown = sorted(set(patched) - set(project.sources))
    if unknown:
        return False  # a repair only rewrites code under test; anything else is not this case's fix
    tests = {**project.checked_files(), **case.hidden_tests()}
    report = await sandbox.run_tests(
        {**project.sources, **patched},
        tests,
        JUDGE_LIMITS,
        trusted=dict(project.sources),
        pythonpath=project.pythonpath,
    )
    return report.all_passed and not report.tampered


def runtime_for(mode: Mode, rt: Runtime) -> Runtime:
    """`rt` with the backend `mode` uses (the same sandbox and PRM)."""
    return rt if mode != "mutations" else replace(rt, backend=SilentBackend())


__all__ = [
    "DEFAULT_SET",
    "MODES",
    "SUITE",
    "RepairCase",
    "SilentBackend",
    "case_of",
    "check_fix",
    "count_test_runs",
    "load_cases",
    "load_items",
    "mode_of",
    "mutants_for",
    "parse_modes",
    "read_case",
    "runtime_for",
    "writes",
]
