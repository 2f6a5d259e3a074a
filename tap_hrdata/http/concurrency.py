"""Requests in flight side by side, results taken in order: latency hidden, order and memory kept.

A vendor 50 ms away costs 50 ms per call when the tap waits for each answer before the
next request. :class:`Workers` (one per source client, ``max_concurrent_requests``
threads) runs calls ahead of the stream that needs them, and :meth:`Workers.in_order`
hands their results back in the order the calls were listed, so a stream emits its
records exactly as it would sequentially and writes STATE only after them.

The rules that keep the guarantees of a sequential run:

- At most ``window`` calls are submitted and not yet taken: memory holds at most that
  many results (a chunk, a page), whatever the data's size.
- A call never waits for another call of the pool (it would deadlock a full pool): calls
  are independent units (a page, a file), built in the stream's own thread.
- A failure is raised where its result would have been taken, in order: the records
  before it are emitted, those after it are not.
- When the consumer stops (it finished early, failed, or the run is being stopped), the
  calls not started are cancelled, the running ones are told to stop (:attr:`Task.stopping`)
  and waited for, so no thread still writes once the stream has moved on.
- With ``max_concurrent_requests`` at 1 nothing runs in a thread: each call runs in the
  stream's thread when its result is taken, exactly as a sequential client would.

Everything the calls share (the session, the token, the throttle, the retry pause, the
counters) is safe across threads in :class:`~tap_hrdata.http.client.VendorClient`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable

T = t.TypeVar("T")


class Task:
    """What a call run ahead may look at: whether its consumer has stopped waiting for it."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._on_stop: dict[int, t.Callable[[], None]] = {}

    @property
    def stopping(self) -> bool:
        """True once the results are no longer wanted: a long call (a big file) should stop early."""
        return self._stop.is_set()

    def stop(self) -> None:
        """Tell the calls of this batch to stop, and end the reads they are blocked in."""
        self._stop.set()
        with self._lock:
            callbacks = list(self._on_stop.values())
        for callback in callbacks:
            with contextlib.suppress(Exception):  # best effort: the call also stops at its next check
                callback()

    def on_stop(self, callback: t.Callable[[], None]) -> t.Callable[[], None]:
        """Call ``callback`` when the batch stops (now, if it has); returns what unregisters it."""
        key = id(callback)
        with self._lock:
            self._on_stop[key] = callback
        if self.stopping:
            with contextlib.suppress(Exception):
                callback()

        def unregister() -> None:
            with self._lock:
                self._on_stop.pop(key, None)

        return unregister

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if the batch is stopped meanwhile; True when it was."""
        return self._stop.wait(seconds)


#: A call run ahead: it receives its batch's :class:`Task` (to check :attr:`Task.stopping`).
Call = t.Callable[[Task], T]

_running = threading.local()  # the Task of the call this worker thread runs


class CallStoppedError(Exception):
    """A call run ahead was stopped while it waited (its result is no longer wanted)."""


def wait(seconds: float) -> None:
    """Sleep ``seconds``; in a worker whose batch is stopped meanwhile, stop waiting and raise.

    The client waits here between attempts (backoff, ``Retry-After``, a source-wide pause),
    so a stopped run does not sit out a minute-long wait in a worker it no longer needs.
    """
    task: Task | None = getattr(_running, "task", None)
    if task is None:
        time.sleep(seconds)
    elif task.sleep(seconds):
        msg = "stopped while waiting to retry: its result is no longer wanted"
        raise CallStoppedError(msg)


def current_task() -> Task | None:
    """The task of the call this worker thread runs; None in the stream's own thread."""
    return getattr(_running, "task", None)


def _run(call: Call[T], task: Task) -> T:
    """Run ``call`` in a worker thread, known there as the running call (see :func:`wait`)."""
    _running.task = task
    try:
        return call(task)
    finally:
        _running.task = None


class Ahead(t.Generic[T]):
    """One call started ahead of need (see :meth:`Workers.ahead`)."""

    def __init__(self, call: Call[T], task: Task, future: concurrent.futures.Future[T] | None) -> None:
        self._call = call
        self._task = task
        self._future = future

    def result(self) -> T:
        """The call's result (waiting for it), or what it raised."""
        if self._future is None:
            return self._call(self._task)
        return self._future.result()

    def cancel(self) -> None:
        """Not wanted any more: stop the call and wait until it has."""
        self._task.stop()
        if self._future is not None:
            self._future.cancel()
            concurrent.futures.wait([self._future])


class Workers:
    """The worker threads of one source's client: ``size`` calls in flight at most, for the whole source."""

    def __init__(self, size: int, name: str) -> None:
        self.size = max(1, int(size))
        self._name = name
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        #: What defers a termination signal while a call is submitted (the tap's ``uninterrupted``).
        #: A SIGTERM's exception raised inside ``submit``, while it starts a thread, would leave that
        #: thread unknown to the interpreter's exit, which then waits for it forever.
        self.hold: t.Callable[[], t.ContextManager[None]] = contextlib.nullcontext

    def _submit(self, call: Call[T], task: Task) -> concurrent.futures.Future[T]:
        """Submit ``call``; in the main thread, with termination signals held until it is submitted."""
        held = self.hold() if threading.current_thread() is threading.main_thread() else contextlib.nullcontext()
        with held:
            return self._executor().submit(_run, call, task)

    @property
    def threaded(self) -> bool:
        """Whether calls run in threads (``size`` over 1)."""
        return self.size > 1

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.size, thread_name_prefix=self._name)
            return self._pool

    def in_order(self, calls: Iterable[Call[T]], *, window: int | None = None) -> Generator[T, None, None]:
        """The results of ``calls``, in their order, with up to ``window`` (default ``size``) run ahead.

        ``calls`` is read lazily, one call ahead of what the window needs, so it may itself
        be a paged listing. Closing the generator stops the batch (see the module docstring).
        """
        depth = max(1, min(self.size, window or self.size))
        task = Task()
        if not self.threaded or depth == 1:
            try:
                for call in calls:
                    yield call(task)
            finally:
                task.stop()
            return
        pending: collections.deque[concurrent.futures.Future[T]] = collections.deque()
        source = iter(calls)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < depth:
                    following = next(source, None)
                    if following is None:
                        exhausted = True
                        break
                    pending.append(self._submit(following, task))
                if not pending:
                    return
                result = pending.popleft().result()
                yield result
                del result  # let go of it before the next is waited for
        finally:
            task.stop()
            for future in pending:
                future.cancel()
            concurrent.futures.wait(pending)

    def ahead(self, call: Call[T]) -> Ahead[T]:
        """Start one call now; take its result later with :meth:`Ahead.result` (a page fetched ahead).

        Without threads, the call runs when its result is taken.
        """
        task = Task()
        future = self._submit(call, task) if self.threaded else None
        return Ahead(call, task, future)

    def close(self) -> None:
        """Stop the threads (the run is over); calls not started are dropped."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
