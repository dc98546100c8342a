"""Runs inside the sandbox: execute program-of-thought steps one by one, report each step's values.

Standalone on purpose (only the standard library and pandas): it is copied into the sandbox
next to `ponder_pot.json` and run as `python3 ponder_pot_harness.py`. Each step's code runs in
one shared namespace, so later steps see earlier variables, with the tables bound as pandas
DataFrames `t0, t1, ...` (and the list `tables`) and the text as `paragraphs`. After each step
the new or changed simple values (numbers, short strings) are recorded; a step that defines
`solution()` without calling it gets its result recorded as `solution()`. One JSON line, after a
per-run nonce, is the only output the verifier reads.
"""

import contextlib
import io
import json
import math
import os
import re
import sys
import traceback

INPUT = "ponder_pot.json"
MAX_STDOUT = 2000


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


def main():
    with open(INPUT, encoding="utf-8") as fh:
        data = json.load(fh)
    os.remove(INPUT)
    nonce = data["nonce"]
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
    steps = []
    for index, code in enumerate(data["steps"]):
        record = {"step": index, "values": {}, "stdout": "", "error": None}
        steps.append(record)
        if error is not None:
            record["error"] = error if index == 0 else "not run: an earlier step failed"
            continue
        if not code.strip():
            continue
        before = {k: simple(v) for k, v in namespace.items()}
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
            record["error"] = "".join(line for line in lines if "ponder_pot_harness" not in line)[-1500:]
            error = record["error"]
        record["stdout"] = buffer.getvalue()[-MAX_STDOUT:]
        for name, value in list(namespace.items()):
            if name.startswith("_") or name in given:
                continue
            current = simple(value)
            if current is not None and (name not in before or before[name] != current):
                record["values"][name] = current
    sys.stdout.write("\n" + nonce + json.dumps({"steps": steps}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
