"""Rate limiting and fault injection, switchable while the server runs.

Both mimic what a HubSpot client must survive: per-token sliding-window limits with HubSpot's
headers, 429 storms, 5xx blips and partial batch failures. Fault decisions come from one seeded
RNG, so a given `fault_seed` and request order always produce the same faults.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

TEN_SECONDS = 10.0
DAILY_LIMIT = 500_000


@dataclass(frozen=True)
class Verdict:
    """A rate-limit decision: headers to send and, when refused, the policy and wait."""

    headers: dict[str, str] = field(default_factory=dict)
    policy: str | None = None
    retry_after: int = 0


def _trim(window: deque[float], oldest: float) -> deque[float]:
    while window and window[0] <= oldest:
        window.popleft()
    return window


class RateLimiter:
    """HubSpot's per-token limits: `per_10s` requests per rolling 10 s, `per_s` searches per s.

    Refused requests are not counted, so a client that waits Retry-After always gets through.
    `clock` is injectable so tests can slide the window without sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._searches: dict[str, deque[float]] = {}
        self._daily: dict[str, int] = {}

    def check(self, token: str, per_10s: int | None, per_s: int | None, search: bool) -> Verdict:
        with self._lock:
            now = self.clock()
            recent = _trim(self._recent.setdefault(token, deque()), now - TEN_SECONDS)
            searches = _trim(self._searches.setdefault(token, deque()), now - 1.0)
            if per_10s is not None and len(recent) >= per_10s:
                wait = max(1, math.ceil(recent[0] + TEN_SECONDS - now))
                return Verdict(
                    self._headers(token, per_10s, len(recent)), "TEN_SECONDLY_ROLLING", wait
                )
            if search and per_s is not None and len(searches) >= per_s:
                return Verdict(self._headers(token, per_10s, len(recent)), "SECONDLY", 1)
            recent.append(now)
            if search:
                searches.append(now)
            self._daily[token] = self._daily.get(token, 0) + 1
            return Verdict(self._headers(token, per_10s, len(recent)))

    def _headers(self, token: str, per_10s: int | None, used: int) -> dict[str, str]:
        if per_10s is None:
            return {}
        return {
            "X-HubSpot-RateLimit-Max": str(per_10s),
            "X-HubSpot-RateLimit-Remaining": str(max(0, per_10s - used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(TEN_SECONDS * 1000)),
            "X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
            "X-HubSpot-RateLimit-Daily-Remaining": str(
                max(0, DAILY_LIMIT - self._daily.get(token, 0))
            ),
        }


class FaultInjector:
    """Seeded fault decisions; re-seeding (a new `fault_seed`) restarts the sequence."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._requests = 0

    def reseed(self, seed: int) -> None:
        with self._lock:
            if seed != self._seed:
                self._seed, self._rng, self._requests = seed, random.Random(seed), 0

    def storm(self, every: int | None) -> bool:
        """True for every `every`-th request (the count runs whether or not storms are on)."""
        with self._lock:
            self._requests += 1
            return bool(every) and self._requests % every == 0

    def server_error(self, rate: float) -> int | None:
        """502 or 503 for a `rate` fraction of requests, else None."""
        if rate <= 0:
            return None
        with self._lock:
            return self._rng.choice((502, 503)) if self._rng.random() < rate else None

    def batch_failure(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate
