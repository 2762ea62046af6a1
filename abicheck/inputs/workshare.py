"""Share jobs between worker threads and the caller's own thread, biggest first.

Used to inflate wheel members. Workers take the biggest pending job; the
caller's thread, whenever no finished result is waiting for it, takes the
smallest pending job and does it itself. So `workers + 1` threads are busy in
all (inflate releases the GIL), the cores are not oversubscribed, and the
biggest job, which bounds the wall time, has a core to itself from the start.

Results come in the order they finish, not the order the jobs were added. At
most `workers` finished results wait for the caller, and the jobs taken by
workers but not yet collected may together cost at most `budget` (by `cost`,
for wheel members the bytes they keep): a worker waits rather than exceed it,
unless nothing else is in flight. So memory stays bounded however many
workers there are and however slowly the caller consumes the results.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class WorkShare(Generic[T, R]):
    """Run `work` over jobs added with `add`; use as a context manager."""

    def __init__(self, work: Callable[[T], R], size: Callable[[T], int], workers: int,
                 cost: Callable[[T], int] | None = None, budget: int | None = None) -> None:
        self._work, self._size = work, size
        self._cost, self._budget = cost or (lambda _job: 0), budget
        self._in_flight = 0  # the cost of jobs taken by workers and not yet collected
        self._pending: deque[T] = deque()  # biggest first
        self._lock = threading.Condition()
        self._closed = False
        self._taken = 0  # jobs taken by workers whose results are not yet collected
        self._ready = 0  # finished results waiting in _done
        self._max_ready = max(1, workers)
        self._done: queue.SimpleQueue[tuple[bool, object, int]] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._worker, name=f"abicheck-work-{n}", daemon=True)
                         for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> WorkShare[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def add(self, jobs: Iterable[T]) -> None:
        with self._lock:
            self._pending = deque(sorted([*self._pending, *jobs], key=self._size, reverse=True))
            self._lock.notify_all()

    def close(self) -> None:
        """No more jobs will be added; workers stop once the pending ones are taken."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def shutdown(self) -> None:
        """Drop pending jobs and wait for the workers to finish the ones they hold."""
        with self._lock:
            self._pending.clear()
            self._closed = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join()

    def _worker(self) -> None:
        while True:
            with self._lock:
                while (not self._pending and not self._closed) or (self._pending and self._must_wait()):
                    self._lock.wait()
                if not self._pending:
                    return
                job = self._pending.popleft()
                self._taken += 1
                self._in_flight += self._cost(job)
            try:
                result: tuple[bool, Any, int] = (True, self._work(job), self._cost(job))
            except BaseException as exc:  # handed to the caller's thread, raised there
                result = (False, exc, self._cost(job))
            with self._lock:
                self._ready += 1
            self._done.put(result)
            # Drop this thread's references before waiting for the next job: a result held here while
            # the worker waits would stay alive after the caller collected it, outside the budget.
            del result, job

    def _must_wait(self) -> bool:
        """Whether a worker must leave the next job for later (called with the lock held)."""
        if self._ready >= self._max_ready:
            return True
        if self._budget is None or self._in_flight == 0:
            return False
        return self._in_flight + self._cost(self._pending[0]) > self._budget

    def results(self) -> Iterator[R]:
        """Every job's result as it finishes; call after `close`."""
        while True:
            try:
                ok, value, cost = self._done.get_nowait()
            except queue.Empty:
                with self._lock:
                    job = self._pending.pop() if self._pending else None
                    idle = job is None and self._taken == 0
                if idle:
                    return
                if job is not None:
                    yield self._work(job)
                    continue
                ok, value, cost = self._done.get()
            with self._lock:
                self._taken -= 1
                self._ready -= 1
                self._in_flight -= cost
                self._lock.notify_all()
            if not ok:
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
