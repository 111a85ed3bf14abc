"""Pydantic's validation errors as ``ConfigProblem`` values: the path in the file
(``users.alice.lines[1]``) and what is allowed there.

The checks in ``proxy.config.checks`` already word their own messages; this module
words pydantic's structural errors (a missing or unknown key, a list where a
mapping belongs), taking what is allowed from the models themselves: a missing
key's field description, the keys of the mapping an unknown key was found in.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from proxy.config.checks import kind
from proxy.config.errors import ConfigProblem

_MAPPING_ERRORS = ("model_type", "model_attributes_type", "dict_type")
_LIST_ERRORS = ("list_type", "tuple_type", "set_type", "frozen_set_type")
_KEY_MARK = "[key]"  # pydantic's location of a mapping key that failed its check


def problems_of(error: ValidationError, root: type[BaseModel]) -> list[ConfigProblem]:
    """One problem per pydantic error, in the order of the file."""
    problems: list[ConfigProblem] = []
    for detail in error.errors(include_url=False):
        loc = tuple(part for part in detail["loc"] if part != _KEY_MARK)
        problem = ConfigProblem(path_of(loc), _message(detail, loc, root))
        if problem not in problems:
            problems.append(problem)
    return problems


def path_of(loc: tuple[str | int, ...]) -> str:
    """``("users", "alice", "lines", 1)`` -> ``users.alice.lines[1]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path


def _message(detail: ErrorDetails, loc: tuple[str | int, ...], root: type[BaseModel]) -> str:
    error_type = detail["type"]
    value = detail["input"]
    if error_type == "missing":
        field = _field_at(root, loc)
        hint = field.description if field is not None else None
        return f"is required: {hint}" if hint else "is required"
    if error_type == "extra_forbidden":
        model = _model_in(_annotation_at(root, loc[:-1]))
        keys = sorted(_keys_of(model)) if model is not None else []
        return f"unknown key; allowed: {', '.join(keys)}"
    if error_type in _MAPPING_ERRORS:
        return f"must be a mapping, got {kind(value)}"
    if error_type in _LIST_ERRORS:
        return f"must be a list, got {kind(value)}"
    if error_type in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {kind(value)}"
    return detail["msg"]


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _field_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> FieldInfo | None:
    if not loc:
        return None
    model = _model_in(_annotation_at(root, loc[:-1]))
    if model is None:
        return None
    return next(
        (f for name, f in model.model_fields.items() if (f.alias or name) == loc[-1]), None
    )


def _annotation_at(root: type[BaseModel], loc: tuple[str | int, ...]) -> Any:
    """The type of the value at ``loc``, following model fields, mapping values
    and list items; None where the models do not say."""
    annotation: Any = root
    for part in loc:
        model = _model_in(annotation)
        field = None
        if model is not None and isinstance(part, str):
            field = next(
                (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
            )
        annotation = field.annotation if field is not None else _element_of(annotation)
    return annotation


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> ``X``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _element_of(annotation: Any) -> Any:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (tuple, list) and args:
        return args[0]
    return None
