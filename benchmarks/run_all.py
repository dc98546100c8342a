"""Run every performance benchmark in this folder and print each ratio beside its target.

Each `bench_*.py` runs in its own process (a crash, a missing Docker engine or a missing model
fails that script only), with its output shown live. At the end a summary lists, per script, how
it ended and every line it printed that names a target, so one screen answers "are we on target?".

Run: .venv/bin/python benchmarks/run_all.py [--only engine,sandbox] [--skip verifiers]
     [--timeout 900] [--args "graph=--skip-model"]
Exit status: 0 when every script ran to completion, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_LINE = re.compile(
    r"\btarget\b|\bMISSED\b|BELOW TARGET|tokens/s|runs/s|recomputed|\bAUROC\b|\bp50\b|us a token",
    re.IGNORECASE,
)
"""Lines worth repeating in the summary: the measured figures, and the targets printed with them."""


@dataclass(slots=True)
class ScriptRun:
    name: str
    status: str = "not run"
    """ok, failed (exit N), timed out after Ns, or could not start."""
    seconds: float = 0.0
    target_lines: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    """Last lines of output, shown for a failed script so the cause is on screen."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def discover(folder: Path = HERE) -> list[Path]:
    """The benchmark scripts: bench_*.py, in name order (private helpers start with "_")."""
    return sorted(folder.glob("bench_*.py"))


def short_name(path: Path) -> str:
    return path.stem.removeprefix("bench_")


def run_script(path: Path, args: list[str], timeout_s: float, *, echo: bool = True) -> ScriptRun:
    """Run one script to completion (or its timeout), streaming and collecting its output."""
    run = ScriptRun(short_name(path))
    started = time.monotonic()
    lines: list[str] = []
    try:
        proc = subprocess.Popen(
            [sys.executable, str(path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=path.parent.parent,
            bufsize=1,
            start_new_session=True,  # so a timeout can stop the script's own children too
        )
    except OSError as exc:
        run.status = f"could not start: {exc}"
        return run
    assert proc.stdout is not None
    deadline = started + timeout_s
    timed_out = False

    # Read line by line; a watchdog kill unblocks the read when the deadline passes.
    def watchdog() -> None:
        nonlocal timed_out
        while proc.poll() is None:
            if time.monotonic() > deadline:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                return
            time.sleep(0.5)

    threading.Thread(target=watchdog, daemon=True).start()
    for line in proc.stdout:
        line = line.rstrip("\n")
        lines.append(line)
        if echo:
            print(f"  {line}", flush=True)
    code = proc.wait()
    run.seconds = time.monotonic() - started
    if timed_out:
        run.status = f"timed out after {timeout_s:.0f}s"
    elif code == 0:
        run.status = "ok"
    else:
        run.status = f"failed (exit {code})"
    run.target_lines = [ln.strip() for ln in lines if TARGET_LINE.search(ln)]
    run.tail = lines[-8:]
    return run


def parse_args_map(specs: list[str]) -> dict[str, list[str]]:
    """--args "graph=--skip-model" entries as {script name: [args]}."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if not sep:
            raise SystemExit(f'--args needs NAME=ARGS (e.g. --args "graph=--skip-model"), got {spec!r}')
        out.setdefault(short_name(Path(f"bench_{name.strip()}.py")), []).extend(shlex.split(rest))
    return out


MISSED_LINE = re.compile(r"\bMISSED\b|BELOW TARGET", re.IGNORECASE)


def summary(runs: list[ScriptRun]) -> str:
    """Per script: how it ended and its figures; last line: completed scripts and missed targets."""
    lines = ["", "=" * 78, "benchmark summary (each figure with its target)", "=" * 78]
    for run in runs:
        status = "" if run.ok else f" {run.status}"
        lines.append(f"[{'ok' if run.ok else 'FAIL'}] {run.name}{status}  ({run.seconds:.0f}s)")
        lines += [f"      {t}" for t in run.target_lines]
        if not run.ok:
            lines += [f"      | {t}" for t in run.tail]
    failed = [r.name for r in runs if not r.ok]
    missed = sum(1 for r in runs for t in r.target_lines if MISSED_LINE.search(t))
    lines.append("")
    lines.append(
        f"{len(runs) - len(failed)}/{len(runs)} scripts completed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + f"; {missed} figure(s) below target"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated script names (engine, sandbox, ...)")
    parser.add_argument("--skip", default="", help="comma-separated script names to leave out")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per script")
    parser.add_argument("--args", action="append", default=[], help='extra args: "NAME=ARGS", repeatable')
    parser.add_argument("--folder", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    extra = parse_args_map(args.args)
    scripts = [
        p for p in discover(args.folder) if (not only or short_name(p) in only) and short_name(p) not in skip
    ]
    if not scripts:
        print(f"no benchmark scripts selected in {args.folder}", file=sys.stderr)
        return 1
    runs = []
    for path in scripts:
        name = short_name(path)
        print(f"\n--- {name} ({path.name} {' '.join(extra.get(name, []))})".rstrip(), flush=True)
        runs.append(run_script(path, extra.get(name, []), args.timeout))
    print(summary(runs))
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
