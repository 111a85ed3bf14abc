"""Building blocks of the configuration models: the base model and value checks.

A check is ``Annotated`` metadata on a model field (``Annotated[float, Seconds(0.5,
180)]``): it validates the YAML value and describes it in the JSON Schema
(``vipproxy schema``). Every check reports in the file's terms ("must be a
duration such as 20s") and says what is allowed; ``proxy.config.problems`` turns
the pydantic errors into ``ConfigProblem`` values with their paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

from proxy.config.context import ConfigContext, context_of

Loc = tuple[str | int, ...]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_SECONDS = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0,
                 "d": 86400.0}
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Numbers are read as text (``lines: [1000]``), so the schema allows both.
TEXT_SCHEMA: JsonSchemaValue = {"type": ["string", "integer"]}


class Section(BaseModel):
    """A mapping of the YAML file: known keys only, frozen once read.

    A key written without a value (``voicemail:``) reads as a key left out, and a
    section written without a value (``timers:``) as an empty one, as YAML
    authors expect.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def fail(message: str) -> PydanticCustomError:
    """The error for a value that breaks a rule; ``message`` says what is allowed."""
    # The message goes through a placeholder: pydantic formats the template, and
    # messages quote YAML such as "{targets: [...]}".
    return PydanticCustomError("config", "{detail}", {"detail": message})


def problems_at(problems: Sequence[tuple[Loc, str]]) -> ValidationError:
    """One error for several problems below the value being validated.

    Raised from a model's validator, the locations are relative to that model;
    pydantic prefixes the path to it.
    """
    return ValidationError.from_exception_data(
        "configuration",
        [InitErrorDetails(type=fail(message), loc=loc, input=None) for loc, message in problems],
    )


def kind(value: object) -> str:
    """A value as a problem message names it: ``a list``, ``the number 3``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{type(value).__name__} {value!r}"


class Check:
    """``Annotated`` metadata validating one value with ``check`` (replacing the
    type's own validation) and describing it with ``json_schema``."""

    schema: ClassVar[JsonSchemaValue] = {"type": "string"}

    def check(self, value: object, context: ConfigContext) -> Any:
        raise NotImplementedError

    def json_schema(self) -> JsonSchemaValue:
        return dict(self.schema)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def validate(value: object, info: ValidationInfo) -> Any:
            return self.check(value, context_of(info))

        return core_schema.with_info_plain_validator_function(validate)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.json_schema()


def text_of(value: object) -> str:
    """A string; a number is read as its text (``lines: [1000]``, ``code: 44``)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise fail(f"must be a string, got {kind(value)}")
    return str(value)


class Text(Check):
    """Any string (or whole number, read as text)."""

    schema = TEXT_SCHEMA

    def check(self, value: object, context: ConfigContext) -> str:
        return text_of(value)


class EnvText(Check):
    """A string in which ``${VAR}`` is replaced by the environment variable VAR, so
    that secrets (passwords, database URLs) need not be written in the file."""

    schema: ClassVar[JsonSchemaValue] = {
        "type": "string",
        "description": "${VAR} is replaced by the environment variable VAR at load",
    }

    def check(self, value: object, context: ConfigContext) -> str:
        return expand_env(text_of(value), context)


def expand_env(text: str, context: ConfigContext) -> str:
    missing = [name for name in _ENV_VAR.findall(text) if name not in context.environ]
    if missing:
        raise fail(
            f"environment variable {', '.join(missing)} is not set; set it or write the value"
        )
    return _ENV_VAR.sub(lambda match: context.environ[match.group(1)], text)


class OneOf(Check):
    """One of ``choices`` (strings or string enum members), returned as the choice."""

    def __init__(self, choices: Iterable[str]) -> None:
        self.choices = tuple(choices)

    def check(self, value: object, context: ConfigContext) -> str:
        text = text_of(value)
        for choice in self.choices:
            if choice == text:
                return choice
        raise fail(f"{text!r} is not allowed; allowed: {self.allowed()}")

    def allowed(self) -> str:
        return ", ".join(str(choice) for choice in self.choices)

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "string", "enum": [str(choice) for choice in self.choices]}


class Whole(Check):
    """A whole number from ``minimum`` to ``maximum``."""

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum, self.maximum = minimum, maximum

    def check(self, value: object, context: ConfigContext) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"must be a whole number, got {kind(value)}")
        if not self.minimum <= value <= self.maximum:
            raise fail(f"{value} is out of range; allowed: {self.minimum} to {self.maximum}")
        return value

    def json_schema(self) -> JsonSchemaValue:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


class Seconds(Check):
    """A duration in seconds, written ``20s``, ``500ms``, ``2m`` or a bare number."""

    def __init__(self, minimum: float, maximum: float, *, exclusive_minimum: bool = False) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.exclusive_minimum = exclusive_minimum

    def check(self, value: object, context: ConfigContext) -> float:
        seconds: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            seconds = duration_seconds(value)
        if seconds is None:
            raise fail(f"must be a duration such as 20s, 500ms or 2m, got {value!r}")
        too_short = (
            seconds <= self.minimum if self.exclusive_minimum else seconds < self.minimum
        )
        if too_short or seconds > self.maximum:
            lower = f"more than {_shown(self.minimum)}" if self.exclusive_minimum else (
                _shown(self.minimum))
            raise fail(f"{seconds:g}s is out of range; allowed: {lower} to {_shown(self.maximum)}")
        return seconds

    def json_schema(self) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "number", "minimum": self.minimum, "maximum": self.maximum},
                {"type": "string", "pattern": _DURATION.pattern},
            ],
            "description": f"a duration such as 20s, 500ms or 2m, from {_shown(self.minimum)}"
            f" to {_shown(self.maximum)}",
        }


def duration_seconds(text: str) -> float | None:
    """``20s``, ``500ms``, ``2m``, ``12h``, ``90d`` or a bare number of seconds, in
    seconds; None when ``text`` is none of these."""
    match = _DURATION.match(text)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _shown(seconds: float) -> str:
    """A bound as a person writes it: whole days in days (``90d``), else seconds."""
    days = seconds / _UNIT_SECONDS["d"]
    return f"{days:g}d" if days >= 1 and days.is_integer() else f"{seconds:g}s"


def at_least_one(what: str) -> AfterValidator:
    """A list that must hold at least one ``what`` (pair with ``min_items``)."""

    def check(items: tuple[Any, ...]) -> tuple[Any, ...]:
        if not items:
            raise fail(f"needs at least one {what}")
        return items

    return AfterValidator(check)


def min_items(count: int) -> dict[str, Any]:
    """``json_schema_extra`` telling editors a list needs ``count`` items."""
    return {"minItems": count}

