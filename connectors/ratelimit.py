"""Pacing for asynchronous cloud operations: a token bucket and a bounded window.

IAM Identity Center throttles account-assignment writes service-wide and
refuses more than a fixed number of assignment operations in progress at
once. Retrying after a throttle wastes the quota and makes large applies
slow and unpredictable, so the applier paces itself instead: a token bucket
bounds the rate, a window bounds the operations still in progress.

The core is pure: the bucket takes the time as an argument, and ``drive``
takes the clock and the sleep function, so tests and ``bench/`` run the very
same code against a simulated clock without sleeping for real.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Sequence, TypeVar

T = TypeVar("T", bound=Hashable)
Handle = TypeVar("Handle")


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up.

    Over any interval of length d at most ``burst + rate * d`` tokens are
    handed out; that is the property the benchmark checks.
    """

    rate: float
    burst: float = 1.0
    tokens: float | None = None
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be positive and burst at least 1")

    def take(self, now: float) -> float:
        """Take one token at ``now`` and return 0.0, or return how many
        seconds to wait before one is available (nothing is taken)."""
        if self.updated is None:
            self.tokens, self.updated = self.burst, now
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, (self.tokens or 0.0) + elapsed * self.rate)
        self.updated = max(self.updated, now)
        if self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class Limiter:
    """A token bucket plus the maximum number of operations in progress.

    One instance is shared by every account a connector touches, because
    the quota belongs to the Identity Center instance, not to an account.
    """

    rate: float = 10.0
    burst: float = 1.0
    max_outstanding: int = 15
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    bucket: TokenBucket = field(init=False)
    submitted: list[float] = field(default_factory=list)  # clock() of each submission
    peak_outstanding: int = 0

    def __post_init__(self) -> None:
        if self.max_outstanding < 1:
            raise ValueError("max_outstanding must be at least 1")
        self.bucket = TokenBucket(self.rate, self.burst)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None
    calls: int = 0


def drive(items: Sequence[T], submit: Callable[[T], tuple[Handle, Outcome | None]],
          poll: Callable[[T, Handle], Outcome | None], limiter: Limiter,
          poll_interval: float = 1.0) -> dict[T, Outcome]:
    """Run one asynchronous operation per item, paced by ``limiter``.

    ``submit(item)`` starts the operation and returns a handle and, when the
    service already answered with a final status, its outcome. ``poll(item,
    handle)`` returns the outcome once the operation has finished, or None
    while it is in progress. Either may raise: the item then fails with the
    error text and the others go on. Each operation is polled every
    ``poll_interval`` seconds; submissions wait for a token and for a free
    slot in the window, so neither limit is ever exceeded.
    """
    pending = list(reversed(items))
    inflight: dict[T, tuple[Handle, float, int]] = {}  # item -> (handle, next poll, calls)
    results: dict[T, Outcome] = {}
    while pending or inflight:
        now = limiter.clock()
        for item, (handle, due, calls) in list(inflight.items()):
            if due > now:
                continue
            try:
                outcome = poll(item, handle)
            except Exception as exc:  # one failure must not stop the others
                outcome = Outcome(False, _describe(exc))
            if outcome is None:
                inflight[item] = (handle, now + poll_interval, calls + 1)
            else:
                del inflight[item]
                results[item] = Outcome(outcome.ok, outcome.error, calls + 1)
        wait_token = None
        while pending and len(inflight) < limiter.max_outstanding:
            wait = limiter.bucket.take(limiter.clock())
            if wait > 0:
                wait_token = wait
                break
            item = pending.pop()
            limiter.submitted.append(limiter.clock())
            try:
                handle, outcome = submit(item)
            except Exception as exc:
                results[item] = Outcome(False, _describe(exc), 1)
                continue
            if outcome is not None:
                results[item] = Outcome(outcome.ok, outcome.error, 1)
            else:
                inflight[item] = (handle, limiter.clock() + poll_interval, 1)
                limiter.peak_outstanding = max(limiter.peak_outstanding, len(inflight))
        if not pending and not inflight:
            break
        now = limiter.clock()
        wakeups = [due for _, due, _ in inflight.values()]
        if wait_token is not None:
            wakeups.append(now + wait_token)
        if wakeups:
            delay = min(wakeups) - now
            if delay > 0:
                limiter.sleep(delay)
    return results


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


__all__ = ["TokenBucket", "Limiter", "Outcome", "drive"]
