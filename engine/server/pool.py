"""WorkerPool: threads running blocking calls for the event loop, with cheap hand-offs.

``loop.run_in_executor`` costs a concurrent Future, an asyncio Future chained to it and
one ``call_soon_threadsafe`` (a write to the loop's wake-up pipe) per call. Here a job is
one tuple on a ``queue.SimpleQueue`` (C, no Python-level lock), and results come back in
batches: a worker appends to a list and wakes the loop only when the list was empty, so
under load one wake-up carries every result finished since the loop last looked.

Threads start on demand, up to ``workers``, when a job arrives and none is idle: a
store in sync durability needs as many writers in flight as there are concurrent
clients for group commit to share one fdatasync among them.

Thread-safety: ``submit`` and ``close`` are called from the event loop thread; callbacks
run there too. Jobs run in the pool's threads.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["WorkerPool"]

log = logging.getLogger(__name__)


class WorkerPool:
    """Runs ``fn(*args)`` in a thread, then ``callback(result, *cb_args)`` on the loop."""

    def __init__(self, workers: int, thread_name_prefix: str = "worker") -> None:
        self.max_workers = workers
        self.thread_name_prefix = thread_name_prefix
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0
        self._done: list[tuple] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def submit(self, fn: Callable, args: tuple, callback: Callable, cb_args: tuple = ()) -> None:
        """Queue a job. Call on the event loop thread; ``fn`` must not raise."""
        if self._closed:
            raise RuntimeError("pool closed")
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        with self._lock:
            start = self._idle == 0 and len(self._threads) < self.max_workers
            if not start:
                self._idle -= 1  # this job takes an idle thread
        if start:
            t = threading.Thread(
                target=self._work,
                name=f"{self.thread_name_prefix}-{len(self._threads)}",
                daemon=True,
            )
            self._threads.append(t)
            t.start()
        self._jobs.put((fn, args, callback, cb_args))

    def _work(self) -> None:
        jobs = self._jobs
        lock = self._lock
        done = self._done
        while True:
            job = jobs.get()
            if job is None:
                return
            fn, args, callback, cb_args = job
            try:
                result = fn(*args)
            except BaseException:  # fn promises not to raise; never lose the thread
                log.exception("job failed in the worker pool")
                continue
            with lock:
                self._idle += 1
                done.append((callback, result, cb_args))
                wake = len(done) == 1
            if wake:
                try:
                    self._loop.call_soon_threadsafe(self._deliver)  # type: ignore[union-attr]
                except RuntimeError:
                    return  # the loop is closed: nobody waits for the answer

    def _deliver(self) -> None:
        with self._lock:
            batch = self._done[:]
            self._done.clear()
        for callback, result, cb_args in batch:
            try:
                callback(result, *cb_args)
            except Exception:
                log.exception("pool callback failed")

    def close(self) -> None:
        """Let queued jobs finish, then stop the threads (results not yet delivered are
        dropped: call after the loop has answered what it waits for)."""
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join()
