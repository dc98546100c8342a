"""`ponder bench --ray`: the same units as `run_bench`, spread over the workers of a Ray cluster.

Each Ray worker is an actor that opens its own runtime from the run's settings (its own backend
client or embedded engine, its own sandbox) once, then answers one unit at a time; the driver
hands the next unit to whichever actor is free. Results come back out of order but are written
in plan order, each as soon as every unit before it is written, so the JSONL is line for line
what a local run writes (`seconds` aside, which is wall time wherever it runs) and a cut-short
run leaves a prefix of it that the next run resumes from, exactly as `run_bench` does.

What the actors need, they get by value: the settings (resolved on the driver, so environment
and config files there decide), the plan and the items (so no node needs the data files). They
import ponder itself: on a cluster of other machines, install it there (or ship it with Ray's
`runtime_env`). Backends passed in as objects (tests) stay on the driver; actors build theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

from ponder.errors import PonderError
from ponder.plugin.bench.runner import (
    BenchPlan,
    BenchRun,
    Unit,
    attempt_unit,
    plan_units,
    stored_result,
)
from ponder.plugin.bench.store import ItemResult, ResultStore
from ponder.plugin.runtime import Runtime, open_runtime
from ponder.plugin.settings import PonderSettings

INSTALL_HINT = "pip install 'ponder[scale]'"


class RayUnavailableError(PonderError):
    """Ray is not installed, or the cluster cannot be reached or lost a worker."""


def import_ray() -> Any:
    """The `ray` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(f"`--ray` needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


class BenchWorker:
    """One Ray actor's state: a runtime opened on first use, kept for every unit it is given."""

    def __init__(self, settings: PonderSettings, need_sandbox: bool) -> None:
        self._settings = settings
        self._need_sandbox = need_sandbox
        self._stack: AsyncExitStack | None = None
        self._rt: Runtime | None = None

    async def run(self, unit: Unit, plan: BenchPlan) -> ItemResult:
        """`attempt_unit` on this actor's runtime (a failed part is an error result, as locally)."""
        if self._rt is None:
            self._stack = AsyncExitStack()
            opened = open_runtime(self._settings, need_sandbox=self._need_sandbox)
            self._rt = await self._stack.enter_async_context(opened)
        return await attempt_unit(unit, self._rt, plan)

    async def close(self) -> None:
        """Close the runtime (sandbox containers, engine) before the actor goes."""
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = self._rt = None


def connect(ray: Any, address: str) -> bool:
    """Join (or start, for "local") the cluster at `address`; True when this call started Ray."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RayUnavailableError(
            f"cannot reach the Ray cluster at {address!r} ({reason}); give `--ray local` to start one "
            "here, `--ray auto` for the one `ray start` runs, or ray://HOST:10001"
        ) from None
    return True


async def run_bench_ray(
    plan: BenchPlan,
    rt: Runtime,
    store: ResultStore,
    *,
    address: str = "local",
    workers: int | None = None,
    on_result: Callable[[ItemResult, bool], None] | None = None,
) -> BenchRun:
    """`run_bench` over a Ray cluster: same units, same store, same order, same resume.

    Args:
        rt: the driver's runtime; its settings (and whether it opened a sandbox) are what every
            actor opens. The driver itself runs no unit.
        address: `ray.init`'s address ("local" starts a cluster on this machine); ignored when
            this process has already joined one.
        workers: actors to start; default: one per CPU of the cluster, at most one per unit to run.

    Raises:
        RayUnavailableError: Ray is missing, the cluster is unreachable, or an actor died.
        BenchAbortedError: as `run_bench`, at the same unit.
    """
    ray = import_ray()
    units = plan_units(plan)
    done: dict[int, tuple[ItemResult, bool]] = {}
    todo = []
    for index, unit in enumerate(units):
        stored = stored_result(store, unit)
        if stored is not None:
            done[index] = (stored, True)
        else:
            todo.append(index)
    run = BenchRun()
    written = 0

    def write_ready() -> None:
        nonlocal written
        while written in done:
            result, skipped = done.pop(written)
            written += 1
            if skipped:
                run.skip(result, on_result)
            else:
                run.record(store, result, on_result)

    write_ready()
    if not todo:
        return run
    started = connect(ray, address)
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Two calls at a time: the driver sends one unit at a time, and `close` must not queue behind it.
        actor_class = ray.remote(num_cpus=1, max_concurrency=2)(BenchWorker)
        actors = [
            actor_class.remote(rt.settings, rt.sandbox is not None) for _ in range(min(count, len(todo)))
        ]
        queue = iter(todo)
        try:
            async with asyncio.TaskGroup() as group:
                for actor in actors:
                    group.create_task(_feed(ray, actor, queue, units, plan, done, write_ready))
        except ExceptionGroup as failed:
            # The first feed to fail (an abort from `write_ready`, a dead actor) stops the others.
            first = next((e for e in failed.exceptions if isinstance(e, PonderError)), None)
            if first is None:
                raise
            raise first from None
        finally:
            await _close(ray, actors)
    finally:
        if started:
            ray.shutdown()
    return run


async def _feed(
    ray: Any,
    actor: Any,
    queue: Iterator[int],
    units: list[Unit],
    plan: BenchPlan,
    done: dict[int, tuple[ItemResult, bool]],
    write_ready: Callable[[], None],
) -> None:
    """Keep one actor busy: take the next unit to run, await its result, write what is ready."""
    for index in queue:
        try:
            result = await actor.run.remote(units[index], plan)
        except ray.exceptions.RayActorError as exc:
            raise RayUnavailableError(
                f"a Ray worker died running {units[index][0].item_id} ({type(exc).__name__}); "
                "re-run the same command to resume (written results are kept)"
            ) from None
        done[index] = (result, False)
        write_ready()


async def _close(ray: Any, actors: list[Any]) -> None:
    """Let each actor close its runtime (sandbox containers included), then end it; one that hangs
    or died is just killed."""
    closing = [actor.close.remote() for actor in actors]
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), timeout=60)
    for actor in actors:
        ray.kill(actor)
