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
