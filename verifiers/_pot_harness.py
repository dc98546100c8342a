"""Runs inside the sandbox: execute program-of-thought steps one by one, report each step's values.

Standalone on purpose (only the standard library and pandas): it is copied into the sandbox
next to `ponder_pot.json` and `ponder_integrity.py` and run as `python3 ponder_pot_harness.py`.
Each step's code runs in one shared namespace, so later steps see earlier variables, with the
tables bound as pandas DataFrames `t0, t1, ...` (and the list `tables`) and the text as
`paragraphs`. After each step the new or changed simple values (numbers, short strings) are
recorded; a step that defines `solution()` without calling it gets its result recorded as
`solution()`. One JSON line, after a per-run nonce, is the only output the verifier reads.

Why two processes: the step code is untrusted, and it must not be able to print that line
itself. The parent forks first, then reads the input (nonce included) and deletes the file, and
sends the child only the tables, text and steps: the process that runs step code never held the
nonce. The child writes its record into a shared memory mapping that no step can name (only
reachable through frames or ``gc``, which the audit hook of `ponder_integrity` refuses to step
code, together with ``ctypes``, tracing, ``exec`` and opening ``/proc/*/fd``), its stdout is
/dev/null, and the parent checks the record's shape before printing it under the nonce. The
parent is non-dumpable, so the child cannot read its memory through ``/proc`` either.
"""

import builtins
import contextlib
import ctypes
import io
import json
import math
import mmap
import os
import re
import sys
import traceback
import types

INPUT = "ponder_pot.json"
INTEGRITY = "ponder_integrity.py"
MAX_STDOUT = 2000
RECORD_CAP = 16 * 1024 * 1024
"""Bytes of the shared mapping the child writes its record into: 8-byte length, a status byte, JSON."""
REASON = slice(9, 265)
"""Why the record is flagged, in plain bytes (the JSON after it may be the step's own work)."""
HEADER = REASON.stop
CLEAN, TAMPERED = b"0", b"T"
NOWHERE = "/nonexistent-ponder"
"""The guard's work dir: no file is under it, so only step code (``<step N>``) counts as untrusted."""
PR_SET_DUMPABLE = 4


def simple(value):
    """A JSON-safe copy of a number or short string, or None for anything else."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        try:
            value = value.item()
        except (TypeError, ValueError):
            return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 200:
        return value
    return None


def load_tables(specs):
    import pandas as pd

    frames = []
    for spec in specs:
        columns = spec.get("columns") or None
        rows = spec.get("rows") or []
        if columns is not None and rows and len(columns) != len(rows[0]):
            columns = None
        frames.append(pd.DataFrame(rows, columns=columns))
    return frames


def watched(integrity):
    """What step code could patch to make the record lie: this harness, the modules it writes the
    record with, the guard, ``math`` (steps call it) and the pandas objects the tables live in."""
    spaces = [sys.modules[__name__], json, json.encoder, json.encoder.JSONEncoder, traceback, contextlib]
    spaces += [re, math, integrity.Guard, integrity.Channel]
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        spaces += [
            pandas.DataFrame,
            pandas.Series,
            type(pandas.DataFrame().iloc),
            type(pandas.DataFrame().loc),
        ]
    return spaces


def run_steps(data, guard, take_snapshot, mark_tampered):
    """Run every step in one namespace; the per-step records the verifier reads.

    After each step, before its values are read, anything the step was refused or replaced
    turns into that step's error and sets the record's tamper flag (`mark_tampered`, plain
    bytes in the shared mapping): whatever the step swapped (``json``, this module's helpers)
    may still shape the JSON written afterwards, so the flag, not the JSON, carries the verdict.
    """
    simple_value = simple  # bound before any step runs: a step replacing the global changes nothing
    namespace = {"__name__": "__pot__", "math": math, "paragraphs": data.get("paragraphs", [])}
    error = None
    tables = []
    # Importing pandas costs about a second; arithmetic-only steps never pay it.
    if any(re.search(r"\b(t\d+|tables|pd|pandas)\b", code) for code in data["steps"]):
        try:
            tables = load_tables(data.get("tables", []))
        except Exception:
            error = "loading the tables failed: " + traceback.format_exc(limit=1)
    namespace["tables"] = tables
    for i, frame in enumerate(tables):
        namespace[f"t{i}"] = frame
    given = set(namespace)
    changes = take_snapshot().changes
    sys.addaudithook(guard.hook)  # after pandas' import: from here on, step code is watched
    steps = []
    for index, code in enumerate(data["steps"]):
        record = {"step": index, "values": {}, "stdout": "", "error": None}
        steps.append(record)
        if error is not None:
            record["error"] = error if index == 0 else "not run: an earlier step failed"
            continue
        if not code.strip():
            continue
        before = {k: simple_value(v) for k, v in namespace.items()}
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                exec(compile(code, f"<step {index + 1}>", "exec"), namespace)
                solution = namespace.get("solution")
                called = re.search(r"(?<!def )(?<![\w.])solution\s*\(", code)
                if callable(solution) and "solution" not in before and not called:
                    namespace["solution()"] = solution()
        except BaseException as exc:  # the step's own failure is data for the verifier
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            text = "".join(line for line in lines if "ponder_pot_harness" not in line)[-1500:]
            record["error"] = error = text or f"{type(exc).__name__} (no traceback)"
        record["stdout"] = buffer.getvalue()[-MAX_STDOUT:]
        tampering = guard.violations[:1] or [f"{c} was replaced" for c in changes()[:1]]
        if tampering:
            record["error"] = error = f"tampering: {tampering[0]}"
            mark_tampered(error)
            continue
        for name, value in list(namespace.items()):
            if name.startswith("_") or name in given:
                continue
            current = simple_value(value)
            if current is not None and (name not in before or before[name] != current):
                record["values"][name] = current
    return steps


def load_integrity():
    """`ponder_integrity` (ponder.sandbox._integrity), private to this process.

    Compiled from the copy beside this file, which is then deleted, and left out of
    sys.modules, so no step can import the object whose class the audit hook consults.
    """
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), INTEGRITY)
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    os.remove(path)
    module = types.ModuleType("ponder_integrity")
    module.__dict__["__builtins__"] = dict(vars(builtins))  # its own, copied before any step runs
    sys.modules[module.__name__] = module  # dataclasses look their module up while it executes
    try:
        exec(compile(source, "<ponder-integrity>", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def child(data_fd, record, integrity):
    """Run the steps (untrusted code) and leave the record in the shared mapping."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    chunks = []
    while chunk := os.read(data_fd, 1 << 20):
        chunks.append(chunk)
    os.close(data_fd)
    data = json.loads(b"".join(chunks))
    guard = integrity.Guard(NOWHERE, (), integrity.Channel(devnull))
    dumps = json.dumps

    def mark_tampered(reason):
        record[REASON] = reason.encode("utf-8", "replace")[:256].ljust(256, b"\0")
        record[8:9] = TAMPERED

    record[8:9] = CLEAN
    steps = run_steps(data, guard, lambda: integrity.Snapshot(extra=watched(integrity)), mark_tampered)
    payload = dumps({"steps": steps}).encode()
    if len(payload) > RECORD_CAP - HEADER:
        payload = dumps({"error": "the record was larger than the harness keeps"}).encode()
    record[HEADER : HEADER + len(payload)] = payload
    record[:8] = len(payload).to_bytes(8, "big")


def checked(record, count, status):
    """The child's steps if its record has the shape this harness writes, else one error per step."""
    size = int.from_bytes(record[:8], "big")
    try:
        if status != 0 or not 0 < size <= RECORD_CAP - HEADER:
            raise ValueError(f"the calculation process ended before reporting (status {status})")
        if record[8:9] != CLEAN:
            raise ValueError(bytes(record[REASON]).rstrip(b"\0").decode("utf-8", "replace") or "tampering")
        data = json.loads(record[HEADER : HEADER + size])
        if "error" in data:
            raise ValueError(data["error"])
        steps = data["steps"]
        if not isinstance(steps, list) or len(steps) != count:
            raise ValueError("the calculation's record has the wrong number of steps")
        for index, step in enumerate(steps):
            values = step["values"]
            if step["step"] != index or not isinstance(values, dict) or not isinstance(step["stdout"], str):
                raise ValueError(f"the calculation's record for step {index + 1} is malformed")
            if step["error"] is not None and not isinstance(step["error"], str):
                raise ValueError(f"the calculation's record for step {index + 1} is malformed")
            if any(not isinstance(k, str) or simple(v) != v for k, v in values.items()):
                raise ValueError(f"the calculation's record for step {index + 1} holds a non-simple value")
        return steps
    except (ValueError, KeyError, TypeError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "the calculation's record is malformed"
        return [{"step": i, "values": {}, "stdout": "", "error": reason} for i in range(count)]


def main():
    with contextlib.suppress(OSError, AttributeError):  # non-dumpable: no /proc/<pid>/mem for the child
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    integrity = load_integrity()
    data_r, data_w = os.pipe()
    record = mmap.mmap(-1, RECORD_CAP)  # anonymous and shared with the child
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 70
        try:
            os.close(data_w)
            child(data_r, record, integrity)
            code = 0
        finally:
            os._exit(code)
    os.close(data_r)
    with open(INPUT, encoding="utf-8") as fh:
        data = json.load(fh)
    os.remove(INPUT)
    nonce = data.pop("nonce")
    payload = json.dumps(data).encode()
    view = memoryview(payload)
    with contextlib.suppress(BrokenPipeError):
        while view:
            view = view[os.write(data_w, view) :]
    os.close(data_w)
    _, status = os.waitpid(pid, 0)
    steps = checked(record, len(data["steps"]), os.waitstatus_to_exitcode(status))
    sys.stdout.write("\n" + nonce + json.dumps({"steps": steps}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
