"""The data plane's micro-batching: concurrent requests share predict calls, each gets
its own rows back, a request alone never waits, and a model error reaches every request
of its batch."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable
from typing import Any

import numpy as np

from opensage.serving.dataplane import Batcher, EventIds, ModelError, Overloaded


class Recorder:
    """A model that returns each row's first value and records its calls."""

    batchable = True

    def __init__(self, fail_on: float | None = None) -> None:
        self.calls: list[tuple[int, str]] = []
        self.fail_on = fail_on

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.calls.append((len(rows), threading.current_thread().name))
        if self.fail_on is not None and self.fail_on in rows[:, 0]:
            raise ValueError(f"cannot score {self.fail_on}")
        return rows[:, 0] * 10.0


def batcher(model: Recorder, *, in_flight: int, **options: Any) -> Batcher:
    settings = {"max_batch_size": 64, "max_wait_s": 0.0, "max_queue": 100, **options}
    made = Batcher(model, **settings)  # type: ignore[arg-type]
    made.in_flight = lambda: in_flight
    return made


async def together(target: Batcher, values: list[float]) -> list[Any]:
    rows = [np.array([[v, 0.0]]) for v in values]
    return await asyncio.gather(*(target.predict(r) for r in rows), return_exceptions=True)


def test_concurrent_requests_share_one_predict_call_on_the_loop_thread() -> None:
    model = Recorder()
    answers = asyncio.run(together(batcher(model, in_flight=8), [float(i) for i in range(8)]))
    assert [a.tolist() for a in answers] == [[10.0 * i] for i in range(8)]
    assert model.calls == [(8, threading.current_thread().name)]


def test_a_batch_without_every_request_in_flight_runs_on_the_predict_thread() -> None:
    model = Recorder()
    asyncio.run(together(batcher(model, in_flight=5), [1.0, 2.0]))
    assert [size for size, _ in model.calls] == [2]
    assert model.calls[0][1].startswith("opensage-predict")


def test_batches_hold_at_most_max_batch_size_rows() -> None:
    model = Recorder()
    target = batcher(model, in_flight=10, max_batch_size=4)
    answers = asyncio.run(together(target, [float(i) for i in range(10)]))
    assert [size for size, _ in model.calls] == [4, 4, 2]
    assert [a.tolist() for a in answers] == [[10.0 * i] for i in range(10)]


def test_a_request_alone_does_not_wait_for_a_batch() -> None:
    model = Recorder()
    target = batcher(model, in_flight=1, max_wait_s=0.5)
    started = time.perf_counter()
    answers = asyncio.run(together(target, [3.0]))
    assert time.perf_counter() - started < 0.25
    assert answers[0].tolist() == [30.0]


async def _two_requests(target: Batcher, between: Awaitable[Any]) -> list[Any]:
    """Two one-row requests, the second sent after ``between``; their answers."""
    first = asyncio.ensure_future(target.predict(np.array([[1.0, 0.0]])))
    await between
    second = await target.predict(np.array([[2.0, 0.0]]))
    return [await first, second]


def test_the_batch_wait_collects_requests_that_arrive_within_it() -> None:
    model = Recorder()
    target = batcher(model, in_flight=2, max_wait_s=0.2)

    answers = asyncio.run(_two_requests(target, asyncio.sleep(0.05)))
    assert [a.tolist() for a in answers] == [[10.0], [20.0]]
    assert [size for size, _ in model.calls] == [2]


def test_a_model_error_fails_its_batch_and_the_next_batch_is_served() -> None:
    model = Recorder(fail_on=2.0)
    target = batcher(model, in_flight=3)

    async def twice() -> tuple[list[Any], list[Any]]:
        return await together(target, [1.0, 2.0, 3.0]), await together(target, [4.0])

    failed, served = asyncio.run(twice())
    assert all(isinstance(answer, ModelError) for answer in failed)
    assert "cannot score 2.0" in str(failed[0])
    assert served[0].tolist() == [40.0]


def test_event_ids_are_unique_and_as_long_as_a_uuid() -> None:
    ids = EventIds()
    drawn = [ids.next() for _ in range(10_000)]
    assert len(set(drawn)) == len(drawn)
    assert {len(i) for i in drawn} == {32}
    int(drawn[0], 16)
    assert EventIds().next()[:16] != drawn[0][:16]


def test_a_full_queue_refuses_more() -> None:
    queued = 3
    model = Recorder()
    target = batcher(model, in_flight=10, max_queue=queued, max_wait_s=0.05)
    answers = asyncio.run(together(target, [float(i) for i in range(queued + 2)]))
    assert sum(isinstance(a, Overloaded) for a in answers) == 2
    assert sum(isinstance(a, np.ndarray) for a in answers) == queued


def test_a_request_a_turn_behind_joins_the_batch_being_formed() -> None:
    model = Recorder()
    target = batcher(model, in_flight=2)

    async def two_turns() -> None:  # the first request queues; the drain starts
        for _ in range(2):
            await asyncio.sleep(0)

    answers = asyncio.run(_two_requests(target, two_turns()))
    assert [a.tolist() for a in answers] == [[10.0], [20.0]]
    assert [size for size, _ in model.calls] == [2]
