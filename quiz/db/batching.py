"""Group commit: calls that arrive while one is running go to the database together.

At a city's peak every citizen saves an answer every few seconds. Each save alone is one
statement and one commit, and most of its cost is the round trip and the commit rather
than the row (docs/benchmarks.md). A Batcher queues the calls of one process; the first
caller leads: it runs everything queued so far (its own call included) as one batch,
hands the lead to the first call that queued meanwhile, and returns. A call therefore
waits at most for the batch in flight and its own, and nothing waits on a timer: a lone
call runs at once, a batch of one.

Works with threads and with gevent's patched locks alike (the locks are made when the
Batcher is, after gunicorn's gevent worker patched the threading module).
"""
import threading
import weakref


class _Call:
    __slots__ = ("values", "done", "lead", "result")

    def __init__(self, values):
        self.values = values
        self.done = threading.Event()
        self.lead = False
        self.result = None


class Batcher:
    def __init__(self, run_batch, max_batch: int = 64):
        """run_batch(list of values) -> one result per value, in order; a result that is an
        exception is raised to its own caller, and an exception raised by run_batch itself
        to every caller of that batch."""
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Call] = []
        self._busy = False  # a leader is running; while False the queue is empty

    def call(self, values):
        call = _Call(values)
        with self._lock:
            self._queue.append(call)
            lead = not self._busy
            self._busy = True
        if not lead:
            call.done.wait()
            if not call.lead:
                return self._outcome(call)
        # The leader's own call is first in the queue: it was queued into an empty queue,
        # or the lead was handed to the first one waiting.
        with self._lock:
            batch = self._queue[:self.max_batch]
            del self._queue[:self.max_batch]
        results = None
        try:
            results = self._run_batch([c.values for c in batch])
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets it
            results = [exc] * len(batch)
        finally:
            # Even when the leader is interrupted (its greenlet killed), wake the batch and
            # pass the lead on: a Batcher left busy would hold every later call forever.
            if results is None or len(results) != len(batch):
                results = [RuntimeError("the batch did not complete")] * len(batch)
            for c, result in zip(batch, results, strict=True):
                c.result = result
                if c is not call:
                    c.done.set()
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._busy = False
        return self._outcome(call)

    @staticmethod
    def _outcome(call: _Call):
        if isinstance(call.result, BaseException):
            raise call.result
        return call.result


_batchers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # owner -> {kind: Batcher}
_batchers_lock = threading.Lock()


def batcher_for(owner, kind: str, run_batch, max_batch: int) -> Batcher:
    """The process's Batcher of `kind` for `owner` (an engine): run_batch(owner, values list).
    Held weakly: a Batcher that held its owner would keep its own key alive."""
    of_owner = _batchers.get(owner)
    if of_owner is None or kind not in of_owner:
        with _batchers_lock:
            of_owner = _batchers.setdefault(owner, {})
            if kind not in of_owner:
                owner_ref = weakref.ref(owner)
                of_owner[kind] = Batcher(lambda items: run_batch(owner_ref(), items), max_batch)
    return of_owner[kind]
