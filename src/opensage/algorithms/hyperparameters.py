"""Hyperparameter value types the built-ins share, in SageMaker's string conventions.

SageMaker passes every hyperparameter as a string; pydantic's lax mode already turns
``"5"`` into ``5`` and ``"true"`` into ``True``. What it lacks is SageMaker's ``"auto"``
(here: ``None``, resolved by the algorithm), JSON-encoded lists (``'["msd","ssd"]'``)
and a way to report a rule between two fields against the right field name.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BeforeValidator, Field

from opensage.errors import InvalidInput


def _auto_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().lower() == "auto" else value


_AUTO = BeforeValidator(_auto_to_none)
PositiveFloatOrAuto = Annotated[Annotated[float, Field(gt=0)] | None, _AUTO]
"""A float > 0, or ``"auto"`` (``None``): the algorithm picks the value."""
NonNegativeFloatOrAuto = Annotated[Annotated[float, Field(ge=0)] | None, _AUTO]
"""A float >= 0, or ``"auto"`` (``None``)."""
PositiveIntOrAuto = Annotated[Annotated[int, Field(ge=1)] | None, _AUTO]
"""An integer >= 1, or ``"auto"`` (``None``)."""

SupervisedPredictor = Literal["binary_classifier", "multiclass_classifier", "regressor"]
"""Linear learner's names for the kind of target (reused by the other tabular learners)."""


def json_list(allowed: tuple[str, ...]) -> BeforeValidator:
    """Parse names from ``allowed``: a JSON list (``'["msd", "ssd"]'``) or ``"msd,ssd"``.

    Errors name the field itself (not a list index), as every other hyperparameter error does.
    """

    def parse(value: Any) -> list[str]:
        if isinstance(value, str):
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else text.split(",")
            except json.JSONDecodeError:
                raise ValueError(f"not a JSON list of names: {text!r}") from None
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty list of names from {list(allowed)}")
        names = [str(item).strip() for item in value]
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise ValueError(f"unknown {unknown}; choose from {list(allowed)}")
        return list(dict.fromkeys(names))

    return BeforeValidator(parse)


def invalid_hyperparameter(name: str, message: str) -> NoReturn:
    """Reject a hyperparameter for a reason pydantic cannot see (a rule between fields)."""
    raise InvalidInput(f"hyperparameter {name!r}: {message}", field=f"hyperparameters.{name}")


def check_feature_dim(feature_dim: int | None, actual: int) -> None:
    """SageMaker's ``feature_dim`` is optional here (the data says it); if given, it must match."""
    if feature_dim is not None and feature_dim != actual:
        invalid_hyperparameter(
            "feature_dim", f"is {feature_dim} but the training data has {actual} features"
        )


__all__ = [
    "NonNegativeFloatOrAuto",
    "PositiveFloatOrAuto",
    "PositiveIntOrAuto",
    "SupervisedPredictor",
    "check_feature_dim",
    "invalid_hyperparameter",
    "json_list",
]
