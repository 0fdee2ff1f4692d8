"""The one rule every resource name obeys (SageMaker's: letters, digits and inner hyphens)."""

from __future__ import annotations

import re

from opensage.errors import InvalidInput

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)


def validate_name(value: str, field: str = "name") -> str:
    """Return ``value`` if it is a valid resource name, else raise ``InvalidInput``.

    The rule keeps names safe as path segments in the artifact store: no slashes, dots or
    other characters that could escape a resource's folder.
    """
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidInput(
            f"{value!r} is not a valid name: use 1-63 letters, digits or hyphens, "
            "starting and ending with a letter or digit",
            field=field,
        )
    return value
