"""The errors leadflow's steps and commands tell apart: what a retry can fix, and what the CLI
reports as a usage or configuration error (exit 2) rather than a failed run (exit 1). Source
packages derive their errors from these, so the core never names a vendor's."""

from __future__ import annotations


class LeadflowError(RuntimeError):
    """Base of leadflow's own errors."""

    retryable = True  # may Airflow's retries fix it?


class ConfigError(LeadflowError):
    """A setting is missing or wrong, or a token rejected; the message says what to fix."""

    retryable = False


class ServiceUnreachable(ConfigError):
    """A configured server did not answer: a setting to check, or an outage a retry outlives."""

    retryable = True


class SourceError(LeadflowError):
    """A source system answered a request with an error (its message and status kept)."""

    def __init__(self, message: str, status: int | None = None, category: str | None = None):
        super().__init__(message)
        self.status = status
        self.category = category
