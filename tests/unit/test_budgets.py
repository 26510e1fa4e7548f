"""The rate budgets' counts (quiz/web/budgets.py) in Redis and in process memory: a window
counted, read and taken back behaves the same in both, so an outage changes no verdict."""
import pytest

from quiz.web import budgets

BUDGET = budgets.Budget("test", "LOGIN_FAILURE_LIMIT", lambda: "who")


def window(name: str, period_s: int = 300) -> budgets._Window:
    return budgets._Window(f"budget:test:{name}", 3, period_s, BUDGET)


@pytest.fixture(params=["redis", "memory"])
def store(request, redis):
    if request.param == "memory":
        return budgets._MemoryCounts()
    redis.flushdb()
    return budgets._RedisCounts(redis)


def test_counts_reads_and_takes_back_in_one_call(store):
    a, b = window("a"), window("b")
    assert store.apply([(a, budgets.COUNT), (b, budgets.READ)]) == [1, 0]
    assert store.apply([(a, budgets.COUNT), (b, budgets.COUNT)]) == [2, 1]
    assert store.apply([(a, budgets.TAKE_BACK), (b, budgets.READ)]) == [1, 1]
    assert store.apply([(a, budgets.READ), (b, budgets.READ)]) == [1, 1]


def test_a_count_taken_back_to_zero_ends_its_window(store):
    a = window("a", period_s=60)
    store.apply([(a, budgets.COUNT)])
    assert store.apply([(a, budgets.TAKE_BACK)]) == [0]
    assert store.apply([(a, budgets.READ)]) == [0]
    assert store.apply([(a, budgets.TAKE_BACK)]) == [0]  # never below zero, never a window without an end
    assert store.apply([(a, budgets.COUNT)]) == [1]
    assert 55 <= store.seconds_left([a])[0] <= 60  # a new window from its first count
