"""Tags: the key/value labels users put on resources (SageMaker's limits)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

MAX_TAGS = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256


def _check(tags: dict[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise ValueError(f"tag key {key[:40]!r} must have 1 to {MAX_KEY_LENGTH} characters")
        if len(value) > MAX_VALUE_LENGTH:
            raise ValueError(f"tag {key!r}: a value has at most {MAX_VALUE_LENGTH} characters")
    return tags


Tags = Annotated[dict[str, str], Field(max_length=MAX_TAGS), AfterValidator(_check)]
"""At most 50 tags; keys of 1-128 characters, values of at most 256."""
