"""The repair workflow: from a project with failing tests to a verified patch.

    load_project → baseline test run (sandbox) → where it fails → mutants around those lines
      → SearchTask (a prompt with the suspect functions, asking for edit hunks; mutants as
        seeds) → search, every candidate's edit checked by the full test suite (cheats rejected
        first) → confirm the winner once more → diff

The model and the mutation operators feed the same tree and the same verifier, so the result
says which of them produced the fix. Nothing here writes to the project; `apply_patches` does,
and only when the caller asks.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ponder.backends.base import BaseBackend, ChatMessage
from ponder.graph import run_search
from ponder.graph.types import SearchConfig, SearchEvent, SearchResult, SearchTask
from ponder.plugin.repair import localize as localize
from ponder.plugin.repair.boundary import Twin, boundary_twins
from ponder.plugin.repair.edit_tree import TreeState
from ponder.plugin.repair.excerpts import describe_failures, failed_tests, suspect_code
from ponder.plugin.repair.guarded import GuardedVerifier
from ponder.plugin.repair.hunks import EditError
from ponder.plugin.repair.localize import choose_target, traceback_lines
from ponder.plugin.repair.missing_modules import missing_dependency
from ponder.plugin.repair.outcome import RepairOutcome, TestCounts
from ponder.plugin.repair.patching import unified_diff
from ponder.plugin.repair.project import Project, RepairInputError
from ponder.plugin.repair.prompts import (
    CHARS_PER_TOKEN,
    DEFAULT_CONTEXT_TOKENS,
    REPAIR_FEEDBACK,
    RepairPrompt,
    answer_room,
    repair_messages,
)
from ponder.plugin.repair.tree_search import best_candidate, edit_tree, tree_config
from ponder.plugin.runtime import Runtime
from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.settings import IMAGE_CONTENTS
from ponder.sandbox.types import Limits, TestReport
from ponder.verifiers.types import VerifyTask


def context_tokens(backend: BaseBackend | None) -> int:
    """The model's context window: what the backend states (the embedded engine), else a guess."""
    n_ctx = getattr(backend, "n_ctx", None)
    return n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else DEFAULT_CONTEXT_TOKENS


def token_counter(backend: BaseBackend | None) -> Callable[[str], int]:
    """The backend's own token counts where they cost no round trip (the answer's room is in its
    tokens; `BaseBackend.count_tokens`); else characters / 3, conservative for code."""
    if backend is not None:
        return backend.count_tokens
    return lambda text: math.ceil(len(text) / CHARS_PER_TOKEN)


def repair_config(base: SearchConfig, code_tokens: int, file_tokens: int) -> SearchConfig:
    """Repairs generate one answer per expansion, with room for an edit of the code shown
    (`answer_room`), and never more than a rewrite of the files it comes from would need (a
    quarter more, and some prose): the tokens a fix may cost scale with the fix, not the file."""
    room = min(answer_room(code_tokens), file_tokens + file_tokens // 4 + 128)
    return base.model_copy(update={"single_step": True, "max_step_tokens": max(base.max_step_tokens, room)})


def build_task(
    project: Project, target: str, messages: list[ChatMessage], skipped: Mapping[str, str] | None = None
) -> SearchTask:
    """The search task: the model's prompt and the full test suite as check (the mutants come
    from the edit tree's expander, `ponder.plugin.repair.edit_tree`)."""
    return SearchTask(
        messages=messages,
        verify=VerifyTask(
            kind="code",
            question=f"fix {target} so that the tests pass",
            inputs={
                "source_path": target,
                "files": dict(project.sources),
                "tests": dict(project.tests),
                "data": {p: base64.b64encode(b).decode() for p, b in project.data.items()},
                "pythonpath": list(project.pythonpath),
                "skipped": dict(skipped or {}),
            },
        ),
        answer_format="code",
        early_stop=True,
        feedback_template=REPAIR_FEEDBACK,
    )


async def run_tests(
    sandbox: BaseSandbox,
    project: Project,
    limits: Limits | None = None,
    *,
    trusted: Project | None = None,
    coverage: bool = False,
) -> TestReport:
    """The project's suite in the sandbox; `trusted` (default: `project`) is the code as it was;
    `coverage` records each test's lines for fault localisation."""
    trusted = trusted or project
    return await sandbox.run_tests(
        dict(project.sources),
        project.checked_files(),
        limits,
        trusted=dict(trusted.sources),
        coverage=coverage,
        pythonpath=trusted.pythonpath,
    )


def model_prompt(
    project: Project,
    report: TestReport,
    config: SearchConfig,
    target: str,
    focus: set[int],
    ranked: Sequence[localize.Suspect],
    backend: BaseBackend | None,
) -> tuple[RepairPrompt, SearchConfig]:
    """What the model is shown (the suspects' functions, the failing tests) within its context, and
    the search config with the answer's room."""
    count = token_counter(backend)
    excerpts = suspect_code(project.sources, ranked, target=target, focus=focus)
    prompt = repair_messages(
        excerpts=excerpts,
        failures=failed_tests(report, project.tests),
        count_tokens=count,
        context_tokens=context_tokens(backend),
    )
    file_tokens = sum(count(project.sources[p]) for p in {e.path for e in excerpts})
    return prompt, repair_config(config, prompt.code_tokens, file_tokens)


async def repair_project(
    project: Project,
    rt: Runtime,
    config: SearchConfig,
    *,
    max_mutants: int = 24,
    wave: int = 4,
    limits: Limits | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
    write: bool = True,
) -> RepairOutcome:
    """Search for a patch that makes every test of `project` pass; never writes to disk.

    Args:
        config: strategy and budget (typically `refine`); made single-step here.
        max_mutants: mutants of the project near its suspect lines, the first edits of the
            edit tree (`ponder.plugin.repair.edit_tree`), and as many again on top of partial
            fixes; 0 = the model alone, by the configured strategy without a tree.
        wave: candidates tested at once; a wave with a passing candidate ends the checking.
        limits: per test-run limits in the sandbox (buggy code often loops forever).
        write: with mutants, the model writes some of the tree's children too; False = it only
            ranks the mutants (where the backend gives logprobs).
    """
    started = time.monotonic()
    sandbox = rt.require_sandbox()
    baseline = await run_tests(sandbox, project, limits, coverage=True)
    before = TestCounts.of(baseline)
    skips = baseline.skips()  # the project's own skips: a fix may keep them, never add one
    if baseline.passes_except(skips):
        skipped = f" ({len(skips)} more skipped)" if skips else ""
        return RepairOutcome(
            status="nothing_to_fix",
            target=None,
            before=before,
            after=before,
            reason=f"all {baseline.total - len(skips)} tests already pass{skipped}",
            seconds=time.monotonic() - started,
        )
    if baseline.tampered:
        raise RepairInputError(f"the baseline test run in {project.root} is untrustworthy: {baseline.reason}")
    if (missing := missing_dependency(baseline, project)) is not None:
        module, where = missing
        raise RepairInputError(
            f"the tests cannot import {module!r} in the sandbox ({where}); the sandbox image holds "
            f"{IMAGE_CONTENTS}: build an image with the project's dependencies "
            f"(FROM {rt.settings.sandbox.image}) and set PONDER_SANDBOX_IMAGE to it"
        )
    target, lines = choose_target(project, baseline)
    py_sources = {p: t for p, t in project.sources.items() if p.endswith(".py")}
    ranked = localize.rank(baseline, py_sources, traceback_lines(baseline, py_sources))
    original = project.sources[target]
    suspect_files = list(dict.fromkeys(s.path for s in ranked))
    prompt, search_config = model_prompt(project, baseline, config, target, lines, ranked, rt.backend)
    tree = None
    if max_mutants > 0:
        tree = edit_tree(
            project,
            baseline,
            search_config,
            rt.backend,
            lambda shown: (
                model_prompt(shown, baseline, config, target, lines, ranked, rt.backend)[0].messages
            ),
            focus=localize.focus(ranked, (target, lines)),
            scores={(s.path, s.line): s.score for s in ranked},
            suspects=suspect_files,
            max_mutants=max_mutants,
            write=write,
        )
    verifier = GuardedVerifier(
        rt.code_verifier(limits=limits),
        project=project,
        target=target,
        suspects=suspect_files,
        wave=wave,
        tree=tree,
    )
    task = build_task(project, target, prompt.messages, skips)
    if tree is None:
        result = await rt.search(task, search_config, verifier=verifier, on_event=on_event)
    else:
        result = await run_search(
            task,
            tree_config(search_config, max_mutants),
            backend=rt.backend,
            verifier=rt.with_prm(verifier),
            on_event=on_event,
            expander=tree,
        )
    states = tree.states if tree is not None else {}
    outcome = RepairOutcome(
        status="no_fix",
        target=target,
        before=before,
        original=original,
        mutants=tree.mutants_made if tree is not None else 0,
        rejected=verifier.rejected,
        unrun=verifier.skipped,
        failures=describe_failures(baseline),
        suspect_lines=sorted(lines),
        suspects=[str(s) for s in ranked[:5]],
        prompt={
            "excerpts": prompt.shown[0],
            "failures": prompt.shown[1],
            "test_functions": prompt.shown[2],
            "tokens": prompt.tokens,
            "answer_room": search_config.max_step_tokens,
        },
        result=result,
    )
    if result.verified and result.answer is not None:
        await _confirm(outcome, project, verifier, result, states, sandbox, limits, skips)
    else:
        outcome.reason = result.reason or f"no candidate passed every test (stopped: {result.stop_reason})"
    if not outcome.verified:
        outcome.best = best_candidate(result.tree, {a: st.description for a, st in states.items()})
    outcome.seconds = time.monotonic() - started
    return outcome


async def _confirm(
    outcome: RepairOutcome,
    project: Project,
    verifier: GuardedVerifier,
    result: SearchResult,
    states: Mapping[str, TreeState],
    sandbox: BaseSandbox,
    limits: Limits | None,
    skips: Mapping[str, str],
) -> None:
    """Belt and braces: the winner's edit is read again, guarded again and run once more; only
    then is it reported as verified."""
    try:
        edit = verifier.edit_of(chosen_steps(result.tree), result.answer)
    except EditError as exc:
        outcome.reason = f"the fix could not be read again: {exc}"
        return
    verdict = verifier.guard(edit)
    if not verdict.ok:
        outcome.reason = verdict.reason
        return
    confirm = await run_tests(sandbox, _with(project, edit.files), limits, trusted=project)
    if not confirm.passes_except(skips):
        outcome.reason = f"the fix did not pass on a second run: {confirm.reason}"
        return
    primary = edit.primary(verifier.target)
    twins = boundary_twins(project.sources, edit.files)
    passing_twins = await _passing(twins, project, sandbox, limits, skips)
    outcome.status = "ambiguous" if passing_twins else "fixed"
    outcome.integrity = {"guard": "accepted", **confirm.integrity}
    if twins:
        outcome.integrity["boundaries"] = {"checked": [str(t) for t in twins], "also_pass": passing_twins}
    if passing_twins:
        outcome.reason = (
            f"the tests pass with both sides of {passing_twins[0]}: they never test the boundary, "
            "so neither is verified; add a test at it to decide (the candidate is shown, not applied)"
        )
    outcome.target = primary
    outcome.original = project.sources[primary]
    outcome.fixed = edit.files[primary]
    outcome.patched = dict(edit.files)
    outcome.originals = {p: project.sources[p] for p in edit.files}
    outcome.after = TestCounts.of(confirm)
    outcome.diff = "".join(unified_diff(project.sources[p], edit.files[p], p) for p in sorted(edit.files))
    made = states.get(result.answer or "")
    outcome.source = made.source if made is not None else result.source  # a tree path: "both" too
    outcome.edit = "mutation" if outcome.source == "mutation" else edit.kind
    if made is not None:
        outcome.description = made.description  # the edits from the project to the fix, in order
    else:
        outcome.description = f"{result.source}-written fix: {edit.detail}"


async def _passing(
    twins: Sequence[Twin],
    project: Project,
    sandbox: BaseSandbox,
    limits: Limits | None,
    skips: Mapping[str, str],
) -> list[str]:
    """The boundary twins (`boundary`) that pass every test too, all run at once."""
    reports = await asyncio.gather(
        *(run_tests(sandbox, _with(project, t.files), limits, trusted=project) for t in twins)
    )
    return [str(t) for t, r in zip(twins, reports, strict=True) if r.passes_except(skips)]


def chosen_steps(tree: Mapping[str, Any]) -> list[str]:
    """The steps of the chosen chain in an exported tree (root excluded)."""
    nodes = {n["id"]: n for n in tree.get("nodes", [])}
    return [nodes[n].get("step") or "" for n in tree.get("chosen_path", []) if n != tree.get("root")]


def _with(project: Project, files: Mapping[str, str]) -> Project:
    return replace(project, sources={**project.sources, **files})
