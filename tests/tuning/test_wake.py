"""The tuner wakes for new metric values of its trials, not for every training job's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from opensage.tuning.service import trial_job_name, trial_of
from opensage.tuning.tuner import Tuner


class Service:
    on_change: Any = None

    def __init__(self, active: list[str]) -> None:
        self.active = active

    def active_names(self) -> list[str]:
        return self.active


def test_only_metrics_of_an_active_search_s_trials_wake_the_tuner() -> None:
    training = SimpleNamespace(on_end=[], on_metrics=[])
    tuner = Tuner(Service(["exam-search"]), training)  # type: ignore[arg-type]
    woken: list[bool] = []
    tuner._loop.wake = lambda: woken.append(True)  # type: ignore[method-assign]
    tuner._drive = lambda name: False  # type: ignore[method-assign]
    (stored,) = training.on_metrics

    stored(trial_job_name("exam-search", 3))
    assert woken == []  # no round yet: no search known to be active

    tuner._round()
    stored("exam-xgb")
    stored(trial_job_name("other-search", 1))
    assert woken == []
    stored(trial_job_name("exam-search", 3))
    assert woken == [True]


def test_a_trial_names_its_search() -> None:
    assert trial_of(trial_job_name("exam-search", 12)) == "exam-search"
    assert trial_of(trial_job_name("a-b-c", 1000)) == "a-b-c"
