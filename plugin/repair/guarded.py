"""The repair's verifier: read each candidate's edit, refuse cheats, run the rest in waves.

A candidate is a model reply (hunks, a rewritten function or a whole file, see
`ponder.plugin.repair.edits`) or a mutation seed (a whole file). Either becomes the new text of the
files it changes; the patch guard (`check_patch`) judges each changed file against its original
before anything runs, and the wrapped code verifier runs the full suite on the patched project.
An edit that cannot be applied and a refused patch are ordinary failed gates whose reason is the
feedback, so refinement tells the model what to do differently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any, cast

from ponder.plugin.repair.edit_tree import EditTree
from ponder.plugin.repair.edits import Edit, EditKind, read_edit
from ponder.plugin.repair.hunks import EditError
from ponder.plugin.repair.patching import Verdict, check_patch
from ponder.plugin.repair.project import Project
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

CHAIN_SEPARATOR = "\n\n"
"""How a chain's steps join into the reply text (`ponder.graph.steps.STEP_SEPARATOR`)."""


def _failed(reason: str, detail: str, **extra: Any) -> StepScore:
    evidence = cast(Evidence, {"reason": reason, "feedback": detail, **extra})  # and the guard's own keys
    return StepScore(score=0.0, gate="fail", evidence=evidence)


class GuardedVerifier(BaseVerifier):
    """Turns candidates into edits, rejects cheating ones before the wrapped verifier runs them,
    and stops running candidates of a batch once one has passed.

    Mutation seeds arrive as one large batch; running them in waves of `wave` candidates lets a
    repair end after the wave that holds the fix instead of after every mutant. Candidates left
    unrun get gate "unknown" (never "pass"), which is what they are: not checked.

    Args:
        project: the project as it is (sources, tests); nothing here writes to it.
        target: the suspect file; a whole-file candidate replaces it.
        suspects: files by suspicion, where a hunk that names no file is looked for.
        seeds: the mutation seeds' answers (whole files of `target`).
        tree: the repair tree whose nodes' answers stand for the files they change; a node that
            passes more tests than its parent stays open (gate "unknown", score the share passed).
    """

    step_level = True
    """Tree nodes (`ponder.plugin.repair.edit_tree`) are unfinished chains with a whole program:
    they are run too, and their share of passing tests is the process reward."""

    def __init__(
        self,
        inner: BaseVerifier,
        *,
        project: Project,
        target: str,
        suspects: Sequence[str] = (),
        seeds: Collection[str] = (),
        wave: int = 4,
        tree: EditTree | None = None,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.project = project
        self.target = target
        self.suspects = list(suspects)
        self.seeds = set(seeds)
        self.wave = max(1, wave)
        self.tree = tree
        self.rejected: list[str] = []
        self.skipped = 0
        """Candidates not run because an earlier wave already held a passing one."""

    def edit_of(self, steps: Sequence[str], answer: str | None) -> Edit:
        """The edit a finished chain makes (raises `EditError` with the reason when there is none)."""
        if answer is not None and answer in self.seeds:
            return Edit({self.target: answer}, "file", "mutation")
        state = self.tree.states.get(answer) if self.tree is not None and answer is not None else None
        if state is not None:
            if state.error is not None:
                raise EditError(state.error)
            kind = cast(EditKind, state.kind if state.kind in ("hunks", "functions") else "file")
            return Edit(dict(state.files), kind, state.description)
        return read_edit(
            CHAIN_SEPARATOR.join(steps),
            answer,
            sources=self.project.sources,
            tests=self.project.tests,
            target=self.target,
            suspects=self.suspects,
        )

    def guard(self, edit: Edit) -> Verdict:
        """The patch guard over every file the edit changes; the first refusal decides."""
        for path, text in edit.files.items():
            original = self.project.sources.get(path, self.project.tests.get(path, ""))
            verdict = check_patch(path, original, text, test_paths=self.project.tests)
            if not verdict.ok:
                return verdict
        return Verdict(True)

    def task_for(self, base: VerifyTask, edit: Edit) -> tuple[VerifyTask, str]:
        """The code verifier's task for an edit, and the candidate text it runs.

        The verifier replaces one file (`source_path`); an edit of other files, or of several,
        carries them in `files` and the project as it was in `trusted`, so the sandbox still
        trusts only the original's comparison methods.
        """
        primary = edit.primary(self.target)
        others = {p: t for p, t in edit.files.items() if p != primary}
        if primary == base.inputs.get("source_path") and not others:
            return base, edit.files[primary]
        inputs = {
            **base.inputs,
            "source_path": primary,
            "files": {**self.project.sources, **others},
            "trusted": dict(self.project.sources),
        }
        return VerifyTask(kind=base.kind, question=base.question, inputs=inputs), edit.files[primary]

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        results: list[StepScore | None] = [None] * len(chains)
        forward: list[tuple[int, Edit | None]] = []
        for i, chain in enumerate(chains):
            if not (chain.answer and (chain.terminal or self._in_tree(chain.answer))):
                forward.append((i, None))  # the inner verifier says why there is nothing to run
                continue
            try:
                edit = self.edit_of(chain.steps, chain.answer)
            except EditError as exc:
                results[i] = _failed("edit not applied", str(exc), edit_error=str(exc))
                continue
            verdict = self.guard(edit)
            if not verdict.ok:
                self.rejected.append(verdict.reason)
                results[i] = _failed("rejected", verdict.reason, rejected=verdict.reason)
                continue
            forward.append((i, edit))
        passed = False
        for start in range(0, len(forward), self.wave):
            wave = forward[start : start + self.wave]
            if passed:
                for i, _ in wave:
                    results[i] = StepScore(
                        score=0.5,
                        gate="unknown",
                        evidence={"reason": "not run: another candidate already passed"},
                    )
                self.skipped += len(wave)
                continue
            for i, s in await self._run(task, chains, wave):
                found = cast(dict[str, Any], s.evidence)  # the code verifier's, plus the guard's keys
                if isinstance(found.get("integrity"), dict):
                    found["integrity"]["guard"] = "accepted"  # it ran, so the guard let it through
                made = dict(wave)[i]
                if made is not None:
                    found["edit"] = made.detail
                results[i] = self._progress(chains[i], s)
                passed = passed or (s.gate == "pass" and chains[i].answer is not None)
        return [r for r in results if r is not None]

    def _in_tree(self, answer: str) -> bool:
        return self.tree is not None and answer in self.tree.states

    def _progress(self, chain: Chain, s: StepScore) -> StepScore:
        """A tree node's verdict as a process reward: one that passes more tests than its parent
        is kept open for one more edit (gate "unknown"; its score stays the share passed)."""
        if self.tree is None or chain.answer is None or not self._in_tree(chain.answer):
            return s
        found = cast(dict[str, Any], s.evidence)
        passed, total = found.get("passed"), found.get("total")
        if not isinstance(passed, int) or not isinstance(total, int) or total == 0 or found.get("tampered"):
            return s
        self.tree.passed[chain.answer] = passed
        before = self.tree.parent_passed(chain.answer)
        found["progress"] = f"{before}/{total} → {passed}/{total}"
        if s.gate == "fail" and passed > before and not chain.terminal:  # terminal: the depth limit
            return StepScore(score=s.score, gate="unknown", evidence=s.evidence)
        return s

    async def _run(
        self, task: VerifyTask, chains: Sequence[Chain], wave: Sequence[tuple[int, Edit | None]]
    ) -> list[tuple[int, StepScore]]:
        """One wave: candidates grouped by the task they need (most share the suite's), run at once."""
        groups: dict[tuple[str, ...], tuple[VerifyTask, list[tuple[int, Chain]]]] = {}
        for i, edit in wave:
            if edit is None:
                key: tuple[str, ...] = ()
                own, chain = task, chains[i]
            else:
                own, text = self.task_for(task, edit)
                primary = own.inputs["source_path"]
                others = sorted((p, t) for p, t in edit.files.items() if p != primary)
                key = () if own is task else (primary, *(part for pair in others for part in pair))
                chain = replace(chains[i], answer=text, terminal=True)  # a tree node is a whole program
            groups.setdefault(key, (own, []))[1].append((i, chain))
        scored = await asyncio.gather(
            *(self.inner.score(own, [c for _, c in members]) for own, members in groups.values())
        )
        return [
            (i, s)
            for (_, members), scores in zip(groups.values(), scored, strict=True)
            for (i, _), s in zip(members, scores, strict=True)
        ]

    async def aclose(self) -> None:
        await self.inner.aclose()
