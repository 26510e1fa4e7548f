"""The Batcher behind grouped saves: calls that queue while a batch runs go together in
the next one, each caller gets its own result, and a failure never leaves it stuck."""
import threading

import pytest

from quiz.db.batching import Batcher


class SlowBatches:
    """run_batch that records each batch and holds the first one until released."""

    def __init__(self):
        self.batches = []
        self.first_running = threading.Event()
        self.release = threading.Event()

    def __call__(self, values):
        self.batches.append(list(values))
        if len(self.batches) == 1:
            self.first_running.set()
            self.release.wait(5)
        return [ValueError(v) if v == "bad" else v * 10 for v in values]


def call_in_threads(batcher, values):
    results = {}

    def call(value):
        try:
            results[value] = batcher.call(value)
        except Exception as exc:  # noqa: BLE001 - what the caller was told
            results[value] = exc

    threads = [threading.Thread(target=call, args=(v,)) for v in values]
    for thread in threads:
        thread.start()
    return threads, results


def test_calls_arriving_during_a_batch_run_together_in_the_next():
    run = SlowBatches()
    batcher = Batcher(run)
    first, results = call_in_threads(batcher, [1])
    assert run.first_running.wait(5)
    later, more = call_in_threads(batcher, [2, 3, 4, 5])
    while len(batcher._queue) < 4:  # all four are waiting behind the running batch
        threading.Event().wait(0.01)
    run.release.set()
    for thread in first + later:
        thread.join(5)

    assert run.batches[0] == [1]
    assert sorted(run.batches[1]) == [2, 3, 4, 5]
    assert {**results, **more} == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}


def test_a_lone_call_runs_at_once_as_a_batch_of_one():
    run = SlowBatches()
    run.release.set()
    batcher = Batcher(run)
    assert batcher.call(7) == 70
    assert batcher.call(8) == 80
    assert run.batches == [[7], [8]]


def test_an_exception_in_its_place_goes_to_that_caller_only():
    run = SlowBatches()
    batcher = Batcher(run)
    first, results = call_in_threads(batcher, [1])
    assert run.first_running.wait(5)
    later, more = call_in_threads(batcher, [2, "bad", 3])
    while len(batcher._queue) < 3:
        threading.Event().wait(0.01)
    run.release.set()
    for thread in first + later:
        thread.join(5)

    assert isinstance(more.pop("bad"), ValueError)
    assert more == {2: 20, 3: 30}


def test_a_failed_batch_fails_its_callers_and_the_next_call_still_runs():
    calls = []

    def broken(values):
        calls.append(values)
        if len(calls) == 1:
            raise ConnectionError("database away")
        return [v for v in values]

    batcher = Batcher(broken)
    with pytest.raises(ConnectionError):
        batcher.call(1)
    assert batcher.call(2) == 2


def test_batches_are_no_larger_than_max_batch():
    run = SlowBatches()
    batcher = Batcher(run, max_batch=2)
    first, _ = call_in_threads(batcher, [1])
    assert run.first_running.wait(5)
    later, results = call_in_threads(batcher, [2, 3, 4, 5, 6])
    while len(batcher._queue) < 5:
        threading.Event().wait(0.01)
    run.release.set()
    for thread in first + later:
        thread.join(5)

    assert [len(b) for b in run.batches] == [1, 2, 2, 1]
    assert results == {2: 20, 3: 30, 4: 40, 5: 50, 6: 60}
