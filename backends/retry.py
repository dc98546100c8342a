"""Bounded retries with exponential backoff for HTTP clients: the backends and the reward-server PRMs.

One policy everywhere: a failure is retried only when the caller's error mapping calls it transient
(connect errors, dropped connections, 5xx), a bounded number of times, with jittered exponential
backoff. What the final error says is the caller's business: each client maps failures to its own
error type with a one-line message naming the URL and the fix.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ponder.backends.errors import BackendError

if TYPE_CHECKING:  # only annotations here; `ponder.verifiers.prm` reaches this from `ponder --help`
    import httpx

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry a request that failed for a transient reason."""

    max_retries: int = 2
    """Retries after the first attempt (0 = try once)."""
    backoff_s: float = 0.2
    """Wait before the first retry, in seconds; doubles on each further retry."""
    max_backoff_s: float = 5.0
    """Upper bound on one wait, in seconds."""

    def delay(self, retry: int) -> float:
        """Seconds before retry number `retry` (0-based), with ±20% jitter against thundering herds."""
        base = min(self.max_backoff_s, self.backoff_s * 2.0**retry)
        return base * random.uniform(0.8, 1.2)


class RetryableStatus(Exception):
    """An HTTP status worth another attempt, raised inside an attempt so the retry loop sees it."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__(status_code, body)
        self.status_code = status_code
        self.body = body


def server_error(response: httpx.Response) -> RetryableStatus:
    """Wrap a transient error answer (5xx, or 429 where the client retries it) for `with_retries`."""
    return RetryableStatus(response.status_code, response.text)


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    map_error: Callable[[Exception], tuple[Exception, bool]],
    note_attempts: bool = True,
) -> T:
    """Run `attempt` until it succeeds, a non-retryable error occurs, or the retries are spent.

    `map_error` turns a failure into the error to raise and says whether it is worth a retry.
    `BackendError`s raised by `attempt` itself (a payload that does not parse, a 4xx) pass
    through untouched: they are verdicts, not accidents. Cancellation propagates at once, which
    closes the in-flight request. With `note_attempts`, an error raised after retries says how
    many attempts were made; turn it off when `map_error`'s messages already say so.
    """
    retry = 0
    while True:
        try:
            return await attempt()
        except BackendError:
            raise
        except Exception as exc:
            error, retryable = map_error(exc)
            if not retryable or retry >= policy.max_retries:
                if retry and note_attempts:
                    error.args = (f"{error.args[0]} (gave up after {retry + 1} attempts)",)
                raise error from exc
        await asyncio.sleep(policy.delay(retry))
        retry += 1
