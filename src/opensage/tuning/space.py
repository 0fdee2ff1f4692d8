"""Search spaces: parameter ranges as Optuna distributions, and sampled values back as
hyperparameters.

Optuna samples in its own coordinates; ``reverse_logarithmic`` ranges are searched as
``1 - value`` on a log scale (dense near 1, as SageMaker's reverse-log scaling), so every
conversion between a hyperparameter value and Optuna's goes through this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from opensage.errors import InvalidInput
from opensage.training.schemas import HyperparameterValue
from opensage.tuning.schemas import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    ParameterRange,
    Scaling,
)

MAX_GRID_POINTS = 10_000
AUTO_LOG_SPAN = 100.0
"""``auto`` scaling searches a positive range on a log scale when max/min reaches this."""


def effective_scaling(spec: ParameterRange) -> Scaling:
    """The scaling a numeric range is searched with (``auto`` resolved); linear otherwise."""
    if isinstance(spec, CategoricalRange):
        return Scaling.LINEAR
    if spec.scaling is not Scaling.AUTO:
        return spec.scaling
    if spec.min > 0 and spec.max / spec.min >= AUTO_LOG_SPAN:
        return Scaling.LOGARITHMIC
    return Scaling.LINEAR


def distribution(spec: ParameterRange) -> BaseDistribution:
    """The Optuna distribution that samples ``spec`` (in Optuna's coordinates)."""
    if isinstance(spec, CategoricalRange):
        return CategoricalDistribution(list(spec.values))
    scaling = effective_scaling(spec)
    if isinstance(spec, IntegerRange):
        return IntDistribution(spec.min, spec.max, log=scaling is Scaling.LOGARITHMIC)
    if scaling is Scaling.REVERSE_LOGARITHMIC:
        return FloatDistribution(1.0 - spec.max, 1.0 - spec.min, log=True)
    return FloatDistribution(spec.min, spec.max, log=scaling is Scaling.LOGARITHMIC)


def distributions(ranges: Mapping[str, ParameterRange]) -> dict[str, BaseDistribution]:
    return {name: distribution(spec) for name, spec in ranges.items()}


def to_hyperparameter(spec: ParameterRange, sampled: Any) -> HyperparameterValue:
    """A value Optuna sampled, as the hyperparameter the trial runs with."""
    if isinstance(spec, CategoricalRange):
        return sampled  # type: ignore[no-any-return]
    if isinstance(spec, IntegerRange):
        return int(sampled)
    if effective_scaling(spec) is Scaling.REVERSE_LOGARITHMIC:
        return 1.0 - float(sampled)
    return float(sampled)


def to_sampled(spec: ParameterRange, value: Any) -> Any:
    """A hyperparameter value in Optuna's coordinates (the inverse of to_hyperparameter)."""
    if isinstance(spec, ContinuousRange) and (
        effective_scaling(spec) is Scaling.REVERSE_LOGARITHMIC
    ):
        return 1.0 - float(value)
    if isinstance(spec, IntegerRange):
        return int(value)
    if isinstance(spec, ContinuousRange):
        return float(value)
    return value


def hyperparameters(
    ranges: Mapping[str, ParameterRange], sampled: Mapping[str, Any]
) -> dict[str, HyperparameterValue]:
    return {name: to_hyperparameter(spec, sampled[name]) for name, spec in ranges.items()}


def fits(ranges: Mapping[str, ParameterRange], values: Mapping[str, Any]) -> bool:
    """Whether earlier hyperparameter values lie in this space (for warm start)."""
    if set(values) != set(ranges):
        return False
    for name, spec in ranges.items():
        value = values[name]
        if isinstance(spec, CategoricalRange):
            if value not in spec.values:
                return False
        elif not isinstance(value, int | float) or not spec.min <= value <= spec.max:
            return False
    return True


def grid(ranges: Mapping[str, ParameterRange]) -> dict[str, list[Any]]:
    """Every point of a grid search, per parameter, in Optuna's coordinates."""
    points: dict[str, list[Any]] = {}
    for name, spec in ranges.items():
        if isinstance(spec, CategoricalRange):
            points[name] = list(spec.values)
        elif isinstance(spec, IntegerRange):
            points[name] = list(range(spec.min, spec.max + 1))
        else:
            raise InvalidInput(
                f"grid search takes categorical and integer ranges; {name!r} is continuous",
                field=f"parameter_ranges.{name}",
            )
    size = 1
    for values in points.values():
        size *= len(values)
    if size > MAX_GRID_POINTS:
        raise InvalidInput(
            f"the grid has {size} points; at most {MAX_GRID_POINTS} are allowed",
            field="parameter_ranges",
        )
    return points


def grid_size(ranges: Mapping[str, ParameterRange]) -> int:
    size = 1
    for values in grid(ranges).values():
        size *= len(values)
    return size


def corners(ranges: Mapping[str, ParameterRange]) -> list[dict[str, HyperparameterValue]]:
    """Hyperparameter sets that together use every range's ends and every categorical
    value, to validate a space against the algorithm before any trial runs."""
    options: dict[str, list[HyperparameterValue]] = {}
    for name, spec in ranges.items():
        if isinstance(spec, CategoricalRange):
            options[name] = list(spec.values)
        else:
            options[name] = [spec.min, spec.max]
    width = max(len(values) for values in options.values())
    return [
        {name: values[min(i, len(values) - 1)] for name, values in options.items()}
        for i in range(width)
    ]
