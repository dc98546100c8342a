"""Repair as a tree search: each child makes one more edit to its parent's code.

A single mutation operator fixes a one-token bug; many real bugs need two edits, and the first
alone already makes some tests pass. So candidates form a tree (`ponder.graph.expander`): the
root is the project as it is; a child applies one mutant (or one model hunk) to its parent's
files; its value is the share of tests that pass, measured in the sandbox (`GuardedVerifier`), a
process reward in which partial progress counts. A child that passes more tests than its parent
stays open and is expanded again; one that passes no more is pruned with its failing tests as
the feedback. The search's strategy (beam, MCTS, refine) decides which open node grows next.

`EditTree` is the graph's expander for that tree. It keeps the state of every node it made (the
files changed so far, keyed by the node's answer) and the tests each passed, which the verifier
fills in. The mutants of a node go to the most suspicious lines across files (`localize.focus`),
so a bug in a helper module is mutated where it is, not in the caller the test calls. With a
model (`ModelWriter`), one child of each expansion is the model's edit of the parent's code,
shown with the parent's failing tests; the rest are mutants, so both proposers share the budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import TypeVar

from ponder.backends.base import Usage
from ponder.graph.expander import Expander, Proposal
from ponder.graph.state import FrontierItem, Node
from ponder.graph.tree import ROOT_ID, TreeView
from ponder.plugin.repair.mutations import Mutant, mutants_across
from ponder.plugin.repair.project import Project

T = TypeVar("T")
FILE_HEADER = "# ===== {path} =====\n"
"""Where each file starts in the answer of a node that changes several files."""

Ranker = Callable[[Mapping[str, str], list[Mutant]], Awaitable[list[Mutant]]]
"""Orders candidate mutants of the given sources (`mutant_rank.rank_mutants` with a backend)."""
RANK_WINDOW = 3
"""A ranker chooses among the next k * RANK_WINDOW mutants in the operators' order."""
MODEL_SHARE = 0.25
"""The model writes at most this share of the tree's children, one per expansion at most: with
one child per expansion (refinement) every fourth child is the model's, in a beam's first round
of 24 one is. Mutants are cheap (no tokens) and fix most one-token bugs; the model is there for
the bugs no operator reaches, so it gets a steady share instead of waiting for the mutants to
run out."""

ModelWriter = Callable[[Mapping[str, str], Node], Awaitable["ModelEdit | None"]]
"""Writes the model's child of a node: given the parent's full sources and the parent node (its
evidence holds the failing tests), the edited files, or None when the model proposed nothing."""


@dataclass(frozen=True, slots=True)
class ModelEdit:
    """What the model's reply makes of the parent's code."""

    files: dict[str, str]
    """Files the reply changes, path → new text (empty when `error` says why it did not apply)."""
    detail: str
    usage: Usage
    kind: str = "hunks"
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TreeState:
    """One node's code: every file changed from the project, and how it got there."""

    files: dict[str, str]
    parent: str | None
    """The parent's answer; None = the project as it is (the root)."""
    description: str
    """The edits from the root, in order, for people."""
    source: str
    """"mutation" or "model" when every edit on the path came from one of them, else "both"."""
    kind: str = "file"
    """How the last edit was written: "file" (a mutant) or the model edit's shape."""
    error: str | None = None
    """A model reply that could not be applied: the candidate fails with this as its feedback."""
    edited: frozenset[tuple[str, int]] = frozenset()
    """(path, line) of the mutants on the path: a child mutates other lines first."""


def interleave(ranked: Sequence[T], operators: Sequence[T]) -> list[T]:
    """The model's first choice, then the operators' first, then the model's second...; each once.

    Neither order dominates on the repair set: the model's finds the right variable or the
    two-file bug the operators' order tests late, and misses a flipped comparison it tests
    early. Alternating keeps each order's k-th mutant within the first 2k, so neither loses its
    fixes for the other's gains. Items are told apart by identity (two mutants may be equal).
    """
    merged: dict[int, T] = {}
    for pair in zip_longest(ranked, operators):
        for mutant in pair:
            if mutant is not None:
                merged.setdefault(id(mutant), mutant)
    return list(merged.values())


def render(files: Mapping[str, str]) -> str:
    """A node's answer: the changed file's text, or every changed file under a header."""
    if len(files) == 1:
        return next(iter(files.values()))
    return "".join(FILE_HEADER.format(path=p) + files[p] for p in sorted(files))


@dataclass(slots=True)
class EditTree(Expander):
    """The repair tree's expander: mutants (and model edits) of a node's code as its children.

    Args:
        project: the project as it is.
        focus: the suspect lines per file, most suspicious file first (`localize.focus`).
        max_mutants: mutants of the project as it is (the first edits), and as many again on
            top of partial fixes, in the whole tree; each costs one test run.
        baseline_passed: tests the project as it is passes; a root child must pass more to stay open.
        model: writes one child per expansion (None = mutations only).
        ranker: orders the next mutants, most natural first (`mutant_rank`); None = the
            operators' order (distance to a suspect line, the line's tier of suspiciousness,
            operator rank).
    """

    project: Project
    focus: dict[str, set[int]]
    max_mutants: int
    baseline_passed: int
    model: ModelWriter | None = None
    ranker: Ranker | None = None
    scores: dict[tuple[str, int], float] = field(default_factory=dict)
    """(path, line) -> the line's suspiciousness (`localize.rank`): mutants at one distance from
    the focus go by their line's tier in its file (`mutations.tiers`)."""
    states: dict[str, TreeState] = field(default_factory=dict)
    passed: dict[str, int] = field(default_factory=dict)
    """Tests passed by each node's code, by its answer (filled in by the verifier)."""
    first_made: int = 0
    """Mutants of the project as it is proposed so far."""
    deeper_made: int = 0
    """Mutants on top of a partial fix proposed so far."""
    model_made: int = 0

    @property
    def mutants_made(self) -> int:
        return self.first_made + self.deeper_made

    def files_of(self, answer: str | None) -> dict[str, str]:
        """The changed files of the node whose answer this is ({} for the root)."""
        return dict(self.states[answer].files) if answer is not None else {}

    def parent_passed(self, answer: str) -> int:
        """Tests the parent of this node passed (the baseline's for a root child)."""
        parent = self.states[answer].parent
        return self.baseline_passed if parent is None else self.passed.get(parent, self.baseline_passed)

    async def propose(self, view: TreeView, item: FrontierItem) -> list[Proposal] | None:
        node = view[item["node"]]
        parent = None if node["id"] == ROOT_ID else node["answer"]
        if parent is not None and parent not in self.states:
            return None  # not a node of this tree: the model expands it as usual
        if parent is not None and self.states[parent].error is not None:
            return []
        base = {**self.project.sources, **self.files_of(parent)}
        edited = self.states[parent].edited if parent is not None else frozenset()
        out: list[Proposal] = []
        if self.model is not None and self.model_made + 1 <= MODEL_SHARE * (self._made() + item["k"]):
            written = await self.model(base, node)
            if written is not None:
                out.append(self._model_child(parent, written, base))
        for mutant in await self._mutants(base, item["k"] - len(out), edited, first=parent is None):
            out.append(self._mutant_child(parent, mutant, base))
        return out

    def _made(self) -> int:
        return self.first_made + self.deeper_made + self.model_made

    async def _mutants(
        self, base: Mapping[str, str], k: int, edited: frozenset[tuple[str, int]], *, first: bool
    ) -> list[Mutant]:
        """The next `k` untried mutants of `base`, nearest the suspect lines first; on top of a
        partial fix, the lines it has not edited yet first (the second edit of a two-edit bug is
        elsewhere; another one on the same line mostly undoes the first)."""
        k = min(k, self.max_mutants - (self.first_made if first else self.deeper_made))
        if k <= 0:
            return []
        focused = {p: self.focus[p] for p in self.focus if p in base}
        ranked = mutants_across({p: base[p] for p in focused}, focused, scores=self.scores)
        ranked.sort(key=lambda m: (m.path, m.line) in edited)  # stable: the order stays otherwise
        window = k * RANK_WINDOW if self.ranker is not None else k
        fresh: list[Mutant] = []
        for mutant in ranked:
            changed = self._changed({mutant.path: mutant.source}, base)
            if changed and render(changed) not in self.states:  # not back to the project's code
                fresh.append(mutant)
                if len(fresh) >= window:
                    break
        if self.ranker is not None:
            fresh = interleave(await self.ranker(base, fresh), fresh)[:k]
        if first:
            self.first_made += len(fresh)
        else:
            self.deeper_made += len(fresh)
        return fresh

    def _changed(self, edit: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
        """The parent's changed files with `edit` on top, less those back to the project's text."""
        merged = {p: t for p, t in base.items() if self.project.sources.get(p) != t}
        merged.update(edit)
        return {p: t for p, t in merged.items() if self.project.sources.get(p) != t}

    def _child(
        self,
        parent: str | None,
        files: dict[str, str],
        step: str,
        source: str,
        kind: str,
        at: set[tuple[str, int]],
    ) -> str:
        above = self.states[parent] if parent is not None else None
        if above is not None and above.source != source:
            source = "both"
        description = f"{above.description}; then {step}" if above is not None else step
        edited = (above.edited if above is not None else frozenset()) | at
        answer = render(files)
        self.states.setdefault(answer, TreeState(files, parent, description, source, kind, edited=edited))
        return answer

    def _mutant_child(self, parent: str | None, mutant: Mutant, base: Mapping[str, str]) -> Proposal:
        files = self._changed({mutant.path: mutant.source}, base)
        answer = self._child(
            parent, files, mutant.description, "mutation", "file", {(mutant.path, mutant.line)}
        )
        return Proposal(answer=answer, step=mutant.description, source="mutation")

    def _model_child(self, parent: str | None, written: ModelEdit, base: Mapping[str, str]) -> Proposal:
        """`base`: the parent's full sources, as `propose` built them for this expansion."""
        self.model_made += 1
        files = self._changed(written.files, base) if written.error is None else {}
        if not files:
            # A reply that does not apply (or changes nothing) is still a child: its tokens were
            # spent, and why it failed is the feedback the tree records for it.
            error = written.error or "the edit leaves the code as it was; change the suspect lines"
            answer = f"# model reply {self.model_made}, not applied\n{written.detail}"
            self.states[answer] = TreeState({}, parent, "model edit not applied", "model", error=error)
            return Proposal(answer=answer, step=written.detail, source="model", usage=written.usage)
        answer = self._child(parent, files, f"model edit: {written.detail}", "model", written.kind, set())
        return Proposal(answer=answer, step=written.detail, source="model", usage=written.usage)
