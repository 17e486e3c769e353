"""argparse types the commands share: bounded numbers, ports, fractions. A bad value is a
usage error (exit 2) that says what the option takes."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least `minimum`."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum} (got {number})")
        return number

    return parse


def fraction(value: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (got {number})")
    return number


def port(value: str) -> int:
    """An argparse type: a TCP port (0 lets the system pick a free one)."""
    number = at_least(0)(value)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535 (got {number})")
    return number


def sandbox_arguments(parser: argparse.ArgumentParser, default_port: int, people: str) -> None:
    """The options every vendor's sandbox takes: where it listens, its seed and its size."""
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 inside a container")
    parser.add_argument("--port", type=port, default=default_port)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--contacts", type=at_least(0), default=5000, help=people)
