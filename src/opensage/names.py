"""The one rule every resource name obeys (SageMaker's: letters, digits and inner hyphens)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from opensage.errors import InvalidInput

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)


def _problem(value: object) -> str | None:
    if isinstance(value, str) and _NAME_RE.fullmatch(value):
        return None
    return (
        f"{value!r} is not a valid name: use 1-63 letters, digits or hyphens, "
        "starting and ending with a letter or digit"
    )


def validate_name(value: str, field: str = "name") -> str:
    """Return ``value`` if it is a valid resource name, else raise ``InvalidInput``.

    The rule keeps names safe as path segments in the artifact store: no slashes, dots or
    other characters that could escape a resource's folder.
    """
    problem = _problem(value)
    if problem:
        raise InvalidInput(problem, field=field)
    return value


def _check(value: str) -> str:
    problem = _problem(value)
    if problem:
        raise PydanticCustomError("invalid_name", problem)
    return value


ResourceName = Annotated[
    str,
    AfterValidator(_check),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN, "maxLength": 63}),
]
"""A resource name in a request body: validated by the one rule, documented in OpenAPI."""
