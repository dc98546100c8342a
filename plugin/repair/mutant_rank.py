"""The model ranks the mutants: the most natural edit is tested first.

A mutant changes a few characters of a file. Where the code is buggy, a language model tends to
find the written token unlikely and the fixed one likely; where the code is right, the reverse.
So each mutant is scored by how much more likely the model finds its first changed token than
the original's, in the file as written up to that point:

    score(mutant) = logprob(mutant's token | prefix) - logprob(original token | prefix)

and the mutants are tested in that order (ties keep the operators' order). The backend's own
generate verb gives this (one token, with its top alternatives' logprobs, `top_logprobs`); no
scoring verb is needed. Where the two texts share their first tokens (``limit`` → ``limit + 1``),
the prefix is extended by the shared token and asked again, up to MAX_STEPS times. A backend
without alternatives' logprobs leaves the order as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ponder.backends.base import BaseBackend, GenerationRequest
from ponder.plugin.repair.mutations import Mutant

TOP = 20
"""Alternatives per position the backend is asked for (the most `GenerationRequest` allows)."""
FLOOR = -20.0
"""The logprob given to a token outside the top alternatives (it is at most the last one's)."""
MAX_STEPS = 3
"""Shared tokens skipped before the first differing one at most."""
_BOUNDARY = " \t\n([{,:;=+-*/%<>!&|^~"


@dataclass(slots=True)
class _Site:
    prefix: str
    original: str
    """The original file's text from the prefix's end."""
    mutated: str
    score: float | None = None


def _start(original: str, mutated: str) -> int:
    """Where the two texts part, moved back to a token boundary (a word is not cut in two, and
    the spaces before it go with it, as tokenizers attach them)."""
    d = 0
    limit = min(len(original), len(mutated))
    while d < limit and original[d] == mutated[d]:
        d += 1
    while d > 0 and original[d - 1] not in _BOUNDARY:
        d -= 1
    while d > 0 and original[d - 1] in " \t":
        d -= 1
    return d


def _token(top: Mapping[str, float], text: str) -> tuple[str, float]:
    """The longest alternative that begins `text`, with its logprob ("" and FLOOR if none)."""
    best = ("", FLOOR)
    for piece, logprob in top.items():
        if piece and text.startswith(piece) and len(piece) > len(best[0]):
            best = (piece, logprob)
    return best


async def model_scores(
    backend: BaseBackend, sources: Mapping[str, str], mutants: Sequence[Mutant]
) -> list[float]:
    """Each mutant's score (see the module's docstring); 0.0 for all without alternatives."""
    if not backend.capabilities.top_logprobs or not mutants:
        return [0.0] * len(mutants)
    sites = []
    for m in mutants:
        original = sources[m.path]
        d = _start(original, m.source)
        sites.append(_Site(original[:d], original[d:], m.source[d:]))
    for _ in range(MAX_STEPS):
        open_sites = [s for s in sites if s.score is None]
        if not open_sites:
            break
        requests = [
            GenerationRequest(prompt=s.prefix, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP)
            for s in open_sites
        ]
        outputs = await backend.generate(requests)
        for site, samples in zip(open_sites, outputs, strict=True):
            top = samples[0].logprobs[0].top if samples and samples[0].logprobs else {}
            ours, theirs = _token(top, site.mutated), _token(top, site.original)
            if ours[0] and ours[0] == theirs[0]:  # the same token: the difference comes later
                site.prefix += ours[0]
                site.original, site.mutated = site.original[len(ours[0]) :], site.mutated[len(ours[0]) :]
                continue
            site.score = ours[1] - theirs[1]
    return [s.score if s.score is not None else 0.0 for s in sites]


async def rank_mutants(
    backend: BaseBackend, sources: Mapping[str, str], mutants: Sequence[Mutant]
) -> list[Mutant]:
    """`mutants` most natural first by `model_scores`; equal scores keep their order."""
    scores = await model_scores(backend, sources, mutants)
    order = sorted(range(len(mutants)), key=lambda i: -scores[i])
    return [mutants[i] for i in order]
