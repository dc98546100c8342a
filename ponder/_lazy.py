"""Lazy public names for package ``__init__`` modules (PEP 562).

Why: each package re-exports its public API (``from ponder.sandbox import DockerSandbox``), but
importing every submodule eagerly means that touching any ``ponder.*`` module loads llama.cpp,
openai, docker and sympy, so ``ponder --help`` took seconds. With `attach` a package names where
each public name lives; the submodule is imported on the first attribute access and the value is
cached in the package's namespace, so later lookups cost nothing. Packages still import the same
names under ``if TYPE_CHECKING:`` and keep a literal ``__all__``, so that mypy, pyright and IDEs see
real, re-exported definitions; the ``attach`` call sits under ``if not TYPE_CHECKING:`` because a
module ``__getattr__`` would make mypy accept any misspelt name as ``object``. `attach` checks at
import time that ``__all__`` and its table agree, so the two cannot drift apart silently.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def attach(
    package: str, public: Iterable[str], exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for `package`, whose ``__all__`` is `public`.

    `exports` maps a submodule name (relative to `package`) to the public names it defines, the
    same shape as the ``from .sub import a, b`` lines it replaces.
    """
    where = {name: sub for sub, names in exports.items() for name in names}
    if len(where) != sum(len(names) for names in exports.values()):
        raise ValueError(f"{package}: a public name is listed under two submodules")
    if set(where) != set(public):
        raise ValueError(f"{package}: __all__ and the lazy table differ: {sorted(set(where) ^ set(public))}")

    def __getattr__(name: str) -> object:
        sub = where.get(name)
        if sub is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
