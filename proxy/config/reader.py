"""A path-aware reader over the parsed YAML tree.

Validation collects every problem instead of stopping at the first, and each
problem names its path in the file (``routes.1000.stages[0].timeout``) and what is
allowed there. Accessors return ``None`` after recording a problem, so a section
builder can go on checking the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from proxy.config.errors import ConfigProblem

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min)?\s*$")
_UNIT_SECONDS = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0}


class Node:
    """One value of the YAML tree, with its path and the shared problem list."""

    __slots__ = ("path", "problems", "value")

    def __init__(self, value: Any, path: str, problems: list[ConfigProblem]) -> None:
        self.value = value
        self.path = path
        self.problems = problems

    def problem(self, message: str) -> None:
        self.problems.append(ConfigProblem(self.path, message))

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else str(key)

    # --- containers -----------------------------------------------------------

    def mapping(self, allowed_keys: Iterable[str] | None = None) -> dict[str, Node] | None:
        """The value as a mapping of child nodes; unknown keys are problems."""
        if self.value is None:
            return {}
        if not isinstance(self.value, dict):
            self.problem(f"must be a mapping, got {_kind(self.value)}")
            return None
        allowed = set(allowed_keys) if allowed_keys is not None else None
        children: dict[str, Node] = {}
        for key, value in self.value.items():
            name = str(key)
            child = Node(value, self._child_path(name), self.problems)
            if allowed is not None and name not in allowed:
                child.problem(f"unknown key; allowed: {', '.join(sorted(allowed))}")
                continue
            children[name] = child
        return children

    def items(self) -> list[Node] | None:
        """The value as a list of child nodes."""
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            self.problem(f"must be a list, got {_kind(self.value)}")
            return None
        return [
            Node(value, self._child_path(index), self.problems)
            for index, value in enumerate(self.value)
        ]

    # --- scalars ----------------------------------------------------------------

    def string(self, allowed: Iterable[str] | None = None) -> str | None:
        """A string (numbers are accepted and read as text: ``lines: [1000]``)."""
        if isinstance(self.value, bool) or not isinstance(self.value, str | int):
            self.problem(f"must be a string, got {_kind(self.value)}")
            return None
        text = str(self.value)
        if allowed is not None:
            choices = list(allowed)
            if text not in choices:
                self.problem(f"{text!r} is not allowed; allowed: {', '.join(choices)}")
                return None
        return text

    def boolean(self) -> bool | None:
        if not isinstance(self.value, bool):
            self.problem(f"must be true or false, got {_kind(self.value)}")
            return None
        return self.value

    def integer(self, minimum: int | None = None, maximum: int | None = None) -> int | None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.problem(f"must be a whole number, got {_kind(self.value)}")
            return None
        if (minimum is not None and self.value < minimum) or (
            maximum is not None and self.value > maximum
        ):
            self.problem(f"{self.value} is out of range; allowed: {minimum} to {maximum}")
            return None
        return self.value

    def duration(self, minimum: float = 0.0, maximum: float | None = None) -> float | None:
        """Seconds, written ``20s``, ``500ms``, ``2m`` or a bare number of seconds."""
        seconds: float | None = None
        if isinstance(self.value, int | float) and not isinstance(self.value, bool):
            seconds = float(self.value)
        elif isinstance(self.value, str):
            match = _DURATION.match(self.value)
            if match:
                seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if seconds is None:
            self.problem(f"must be a duration such as 20s, 500ms or 2m, got {self.value!r}")
            return None
        if seconds < minimum or (maximum is not None and seconds > maximum):
            upper = f"{maximum:g}s" if maximum is not None else "no limit"
            self.problem(f"{seconds:g}s is out of range; allowed: {minimum:g}s to {upper}")
            return None
        return seconds


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{type(value).__name__} {value!r}"
