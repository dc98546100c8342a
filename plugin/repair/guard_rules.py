"""The patch guard's rules: which constructs a repair candidate may not *add* to the file it fixes.

The candidate is the module under test, so it runs inside the pytest process, at import time,
before any test. From there, code that reaches the runner (frames, ``gc``, ``importlib``,
``sys.modules``), writes the report itself (raw file descriptors, ``/proc/self/fd``), ends the
process early, or returns objects that claim to equal anything can turn a failing suite green
without fixing anything. `added_constructs` lists such constructs that the candidate has and the
original did not: a project that already used one keeps it.

The rules work on the AST with import aliases resolved (``import os as o; o.write`` is
``os.write``; ``from os import write as w`` is too), never on source text. Hiding a name from them
is itself a finding: ``getattr`` with a computed name, ``getattr`` on a module, a watched module
passed around as a value, ``globals()``. This is one layer of several (the sandbox hashes the test
files and seals the report), so it aims at the routes an attacker obviously takes and keeps
ordinary fixes passing, rather than at deciding what arbitrary code can do.

Decided on purpose:

* ``@dataclass`` is allowed. Its generated ``__eq__`` compares the fields as a tuple and answers
  ``NotImplemented`` for other classes, so a dataclass equals only an instance of the same class
  with equal fields: honest. What would make it lie is taking fields out of the comparison, so
  ``field(compare=False)`` (and attrs' ``eq=False``) is a finding; a field value with a forged
  ``__eq__`` is caught where that class defines it.
* ``metaclass=abc.ABCMeta`` is allowed (the standard, honest metaclass); any other metaclass is not.
* A syntax error is not a finding: the interpreter cannot import that file either. The host parses
  with a grammar at least as new as the sandbox's (Python ≥ 3.11 on both), so nothing that parses
  in the sandbox goes unchecked here. Sources are parsed as UTF-8 *bytes*, so a coding cookie
  (``# coding: utf-7``) is honoured exactly as the interpreter honours it.

The guard is split by job: `guard_tables` (what is a finding, and why), `guard_names` (what a name
refers to), `guard_visitor` (the walk that applies the tables) and this module (the comparison with
the original file, which is what `patching` calls).
"""

from __future__ import annotations

import ast
import difflib
from collections import Counter

from ponder.plugin.repair.guard_visitor import Finding, findings

__all__ = ["Finding", "added_constructs", "findings", "parse"]


def parse(source: str) -> ast.Module:
    """`source` parsed as the interpreter will read the file: UTF-8 bytes, coding cookie honoured."""
    return ast.parse(source.encode("utf-8"))


def added_constructs(original: str, candidate: str) -> list[Finding]:
    """The findings `candidate` has beyond those of `original`, compared by construct and count.

    When the original had some of a construct, occurrences on unchanged lines use up that
    allowance first, so the findings reported are the ones on lines the candidate changed.

    Raises:
        SyntaxError, ValueError: `candidate` does not parse (an original that cannot be parsed or
            walked counts as having nothing, which only makes the guard stricter).
        RecursionError, MemoryError: `candidate` nests too deeply to parse or walk (CPython compiles
            some nesting the recursive walk cannot follow; honest code never nests that deep).
    """
    new = findings(parse(candidate))
    try:
        allowance = Counter(f.key for f in findings(parse(original)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        allowance = Counter()
    matcher = difflib.SequenceMatcher(None, original.splitlines(), candidate.splitlines(), autojunk=False)
    unchanged = {j + 1 for a, b, size in matcher.get_matching_blocks() for j in range(b, b + size)}
    extra = []
    for finding in sorted(new, key=lambda f: (f.line not in unchanged, f.line)):
        if allowance[finding.key] > 0:
            allowance[finding.key] -= 1
        else:
            extra.append(finding)
    return sorted(extra, key=lambda f: f.line)
