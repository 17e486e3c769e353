"""Budget use at HubSpot's rate limit, shared by the extract and push benchmarks: the sandbox's
served requests, timestamped, and the accepted ones in the steady window."""

from __future__ import annotations

import time

from leadflow.sources.hubspot.sandbox import Portal

BUDGET = 190  # requests per 10 s, a Pro/Enterprise private app's limit
WINDOW_S = 10.0


def stamp_requests(portal: Portal) -> list[tuple[float, int]]:
    """A list the portal appends (time, status) to for every request it serves from now on."""
    served: list[tuple[float, int]] = []
    log_request = portal.log_request

    def stamped(method: str, path: str, status: int) -> None:
        served.append((time.monotonic(), status))
        log_request(method, path, status)

    portal.log_request = stamped  # type: ignore[method-assign]
    return served


def accepted_times(served: list[tuple[float, int]]) -> list[float]:
    """When the requests not refused with 429 were served; raises if they do not span the two
    windows a steady figure needs."""
    accepted = sorted(t for t, status in served if status != 429)
    assert accepted[-1] - accepted[0] > 2 * WINDOW_S, "workload too small for a steady window"
    return accepted


def steady_window(served: list[tuple[float, int]]) -> int:
    """Accepted requests in the second 10-second window after the first accepted one (the first
    window is HubSpot's burst)."""
    accepted = accepted_times(served)
    return sum(1 for t in accepted if accepted[0] + WINDOW_S <= t < accepted[0] + 2 * WINDOW_S)
