"""What validating one value needs to know about the rest of the file.

Numbers are read with the file's ``numbering.default_country_code``, a reference
to a user is checked against the ids under ``users`` and ``${VAR}`` is expanded
from the environment. The loader works these out before validating the document
(``context_for``) and hands them to every validator through pydantic's context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationInfo

from proxy.policy.directory import DEFAULT_COUNTRY_CODE


@dataclass(frozen=True, slots=True)
class ConfigContext:
    country_code: str = DEFAULT_COUNTRY_CODE
    user_ids: frozenset[str] = frozenset()
    environ: Mapping[str, str] = field(default_factory=dict)


def context_of(info: ValidationInfo) -> ConfigContext:
    """The context a validator runs in; the defaults when validated without one."""
    context = info.context
    return context if isinstance(context, ConfigContext) else ConfigContext()
