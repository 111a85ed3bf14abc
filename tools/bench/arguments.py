"""Command-line value types shared by the load tools (tools/bench, tools/soak.py)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number above 0; ``100_000`` and ``100,000`` are read as 100000."""
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer: {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number: {text!r}")
    return value


def milliseconds(text: str) -> int:
    """A duration in milliseconds: 0, or a positive whole number."""
    return positive_int(text) if text.strip() != "0" else 0


def positive_ints(text: str) -> tuple[int, ...]:
    """A comma-separated list of positive whole numbers (``100,200,300``)."""
    return tuple(positive_int(part) for part in text.split(","))


def add_call_shape_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every load tool places its calls with (the SIPp scenarios' knobs)."""
    parser.add_argument("--hold-ms", type=milliseconds, default=500,
                        help="time between the caller's ACK and its BYE (default: 500)")
    parser.add_argument("--answer-delay-ms", type=milliseconds, default=20,
                        help="callee A's ring time between 180 and 200 (default: 20)")
    parser.add_argument("--recv-timeout-ms", type=positive_int, default=5000,
                        help="SIPp fails a call (or a registration) when an expected "
                             "message is this late (default: 5000)")
    parser.add_argument("--service", default="2000",
                        help="the number called, which rings both callees (default: 2000)")
