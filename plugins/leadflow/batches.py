"""Lists cut into the batches an API takes: one helper for every batched read and write."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """`items` in order, in lists of at most `size` (itertools.batched arrives in Python 3.12)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
