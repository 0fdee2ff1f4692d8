"""The search engine: scaling, grids, early stopping and rebuilding a study from records."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from opensage.tuning import space
from opensage.tuning.engine import Search, TrialRecord
from opensage.tuning.schemas import (
    CategoricalRange,
    ContinuousRange,
    EarlyStopping,
    IntegerRange,
    ObjectiveType,
    ParameterRange,
    Scaling,
    Strategy,
)
from opensage.tuning.states import TrialStatus


def make_search(
    ranges: dict[str, ParameterRange],
    strategy: Strategy = Strategy.RANDOM,
    *,
    early_stopping: EarlyStopping = EarlyStopping.OFF,
    warm_start: list[TrialRecord] | None = None,
    trials: dict[int, TrialRecord] | None = None,
) -> Search:
    return Search(
        ranges,
        strategy=strategy,
        objective=ObjectiveType.MINIMIZE,
        early_stopping=early_stopping,
        seed=3,
        parallel=1,
        warm_start=warm_start or [],
        trials=trials or {},
    )


def sample(spec: ParameterRange, n: int = 400) -> list[Any]:
    search = make_search({"p": spec})
    values = []
    for number in range(n):
        values.append(search.ask(number)["p"])
        search.tell(number, TrialStatus.COMPLETED, 0.0)
    return values


def fraction(values: list[Any], predicate: Any) -> float:
    return sum(1 for v in values if predicate(v)) / len(values)


def test_logarithmic_ranges_sample_evenly_in_the_exponent() -> None:
    values = sample(ContinuousRange(min=1e-4, max=1.0, scaling=Scaling.LOGARITHMIC))
    assert all(1e-4 <= v <= 1.0 for v in values)
    # Half the draws fall below the geometric middle (1e-2); a linear scale gives ~1 %.
    assert 0.4 < fraction(values, lambda v: v < 1e-2) < 0.6
    assert 0.15 < fraction(values, lambda v: v < 1e-3) < 0.35


def test_integer_logarithmic_and_auto_scaling() -> None:
    values = sample(IntegerRange(min=1, max=1000, scaling=Scaling.LOGARITHMIC))
    assert all(isinstance(v, int) and 1 <= v <= 1000 for v in values)
    assert 0.4 < fraction(values, lambda v: v <= 31) < 0.6
    # auto: a positive range spanning two decades or more is searched on a log scale.
    assert space.effective_scaling(ContinuousRange(min=1e-4, max=1.0)) is Scaling.LOGARITHMIC
    assert space.effective_scaling(ContinuousRange(min=1.0, max=10.0)) is Scaling.LINEAR
    assert space.effective_scaling(ContinuousRange(min=0.0, max=1000.0)) is Scaling.LINEAR
    linear = sample(ContinuousRange(min=1.0, max=10.0))
    assert 0.4 < fraction(linear, lambda v: v < 5.5) < 0.6


def test_reverse_logarithmic_ranges_crowd_towards_one() -> None:
    values = sample(ContinuousRange(min=0.0, max=0.999, scaling=Scaling.REVERSE_LOGARITHMIC))
    assert all(0.0 <= v <= 0.999 for v in values)
    # 1 - value is log-uniform on [0.001, 1]: half the draws lie above 1 - 10**-1.5.
    assert 0.4 < fraction(values, lambda v: v > 1 - 10**-1.5) < 0.6


def test_grid_search_visits_every_point_once() -> None:
    ranges: dict[str, ParameterRange] = {
        "booster": CategoricalRange(values=["gbtree", "dart", "gblinear"]),
        "max_depth": IntegerRange(min=2, max=4),
    }
    search = make_search(ranges, Strategy.GRID)
    assert space.grid_size(ranges) == 9
    seen = []
    for number in range(9):
        values = search.ask(number)
        seen.append((values["booster"], values["max_depth"]))
        search.tell(number, TrialStatus.COMPLETED, 1.0)
    assert sorted(seen) == sorted(itertools.product(["gbtree", "dart", "gblinear"], [2, 3, 4]))


def test_the_median_rule_prunes_a_trial_worse_than_earlier_ones_at_the_same_step() -> None:
    ranges: dict[str, ParameterRange] = {"x": ContinuousRange(min=0.0, max=1.0)}
    search = make_search(ranges, early_stopping=EarlyStopping.AUTO)
    for number in range(5):
        search.ask(number)
        for step in (1, 2, 3):
            search.report(number, step, 1.0 / step)
        search.tell(number, TrialStatus.COMPLETED, 1.0 / 3)
    search.ask(5)
    assert not search.report(5, 1, 1.0)
    assert not search.report(5, 2, 0.5)  # no worse than the others
    search.ask(6)
    assert search.report(6, 1, 50.0)  # far worse at its first judged step


def test_hyperband_judges_each_step_and_is_reproducible_with_a_seed() -> None:
    ranges: dict[str, ParameterRange] = {"x": ContinuousRange(min=0.0, max=1.0)}

    def run() -> list[tuple[float, int | None]]:
        search = make_search(ranges, Strategy.HYPERBAND)
        outcomes = []
        for number in range(1, 16):
            x = float(search.ask(number)["x"])
            pruned_at = None
            for step in range(1, 28):
                if search.report(number, step, x + 1.0 / step):
                    pruned_at = step
                    break
            search.tell(number, TrialStatus.PRUNED if pruned_at else TrialStatus.COMPLETED,
                        None if pruned_at else x)  # fmt: skip
            outcomes.append((x, pruned_at))
        return outcomes

    first = run()
    assert first == run()
    pruned_steps = {step for _, step in first if step is not None}
    assert pruned_steps, first
    # Hyperband's rungs sit at min_resource * 3**k steps: decisions happen there only.
    assert pruned_steps <= {1, 3, 9, 27}


def test_a_rebuilt_study_holds_the_records_and_resumes_running_trials() -> None:
    ranges: dict[str, ParameterRange] = {
        "x": ContinuousRange(min=0.0, max=0.99, scaling=Scaling.REVERSE_LOGARITHMIC),
        "kind": CategoricalRange(values=["a", "b"]),
    }
    records = {
        1: TrialRecord(TrialStatus.COMPLETED, {"x": 0.5, "kind": "a"}, 0.25, {1: 0.3}),
        2: TrialRecord(TrialStatus.PRUNED, {"x": 0.9, "kind": "b"}, None, {1: 9.0}),
        3: TrialRecord(TrialStatus.FAILED, {"x": 0.1, "kind": "a"}),
        4: TrialRecord(TrialStatus.IN_PROGRESS, {"x": 0.7, "kind": "b"}, None, {1: 0.4}),
    }
    search = make_search(ranges, Strategy.BAYESIAN, trials=records)
    states = [t.state.name for t in search.study.trials]
    assert states == ["COMPLETE", "PRUNED", "FAIL", "RUNNING"]
    # Values are stored as hyperparameters and converted back exactly.
    assert search.study.trials[0].params["x"] == pytest.approx(0.5)
    resumed = search.study.trials[3]
    assert resumed.params == {"x": pytest.approx(1 - 0.7), "kind": "b"}
    assert resumed.intermediate_values == {1: 0.4}
    search.tell(4, TrialStatus.COMPLETED, 0.1)
    assert search.study.best_value == 0.1


def test_warm_start_adds_earlier_completed_trials_that_fit_the_space() -> None:
    ranges: dict[str, ParameterRange] = {"x": ContinuousRange(min=0.0, max=10.0)}
    earlier = [
        TrialRecord(TrialStatus.COMPLETED, {"x": 2.0}, 4.0),
        TrialRecord(TrialStatus.COMPLETED, {"x": 3.0}, 1.0),
        TrialRecord(TrialStatus.COMPLETED, {"x": 30.0}, 0.5),  # outside this space
        TrialRecord(TrialStatus.FAILED, {"x": 5.0}),
        TrialRecord(TrialStatus.COMPLETED, {"y": 1.0}, 0.1),  # another parameter
    ]
    search = make_search(ranges, Strategy.BAYESIAN, warm_start=earlier)
    assert search.warm_start_trials == 2
    assert search.study.best_value == 1.0
    assert math.isclose(search.study.best_params["x"], 3.0)
