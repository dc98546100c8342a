"""What a benchmark run was: its plan, the model, the machine and the command, as `run.json`.

The report and RESULTS.md cite it, so a figure always says what produced it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ponder.plugin.bench.runner import BenchPlan
    from ponder.plugin.runtime import Runtime


def backend_name(rt: Runtime) -> str:
    """ "embedded:<model file>" or "<kind>:<model>": which model produced the figures."""
    settings = rt.settings.backend
    model_path = getattr(rt.backend, "model_path", None) or settings.model_path
    model = settings.model or (Path(model_path).name if model_path else "")
    name = str(getattr(rt.backend, "name", settings.kind))
    return f"{name}:{model}" if model else name


def write_run_info(out: Path, plan: BenchPlan, rt: Runtime, command: str) -> Path:
    """run.json: what was run, on what, with which command (the report and RESULTS.md cite it)."""
    import platform

    info = {
        "suite": plan.suite,
        "strategies": list(plan.strategies),
        "budgets": list(plan.budgets),
        "seeds": list(plan.seeds),
        "limit": plan.limit,
        "n": plan.n,
        "mutants": plan.mutants,
        "data": str(plan.data) if plan.data else None,
        "backend": backend_name(rt),
        "prm": rt.settings.prm.kind,
        "machine": f"{_cpu_model() or platform.machine()}, {_cpus()} cores, {platform.system()}",
        "python": platform.python_version(),
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "run.json"
    path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return ""
    return next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
