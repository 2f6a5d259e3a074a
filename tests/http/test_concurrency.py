"""Workers: calls run ahead in threads, results in order, a bounded window, a clean stop."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from tap_hrdata.http.concurrency import CallStoppedError, Task, Workers
from tests.conftest import mount
from tests.emulator.server import Emulator, Request, Response
from tests.http.test_client import Script, get, make_client, token_client


class Gauge:
    """How many calls run at once, and the most seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.started: list[int] = []

    def call(self, value: int, seconds: float = 0.0, fail: bool = False) -> Callable[[Task], int]:
        def run(task: Task) -> int:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
                self.started.append(value)
            try:
                time.sleep(seconds)
                if fail:
                    raise ValueError(f"call {value} failed")
                return value
            finally:
                with self._lock:
                    self.now -= 1

        return run


def test_results_come_in_the_order_of_the_calls_whatever_order_they_finish_in() -> None:
    gauge = Gauge()
    rng = random.Random(7)
    workers = Workers(8, "test-")
    try:
        calls = (gauge.call(n, rng.uniform(0, 0.02)) for n in range(60))
        assert list(workers.in_order(calls)) == list(range(60))
    finally:
        workers.close()
    assert 1 < gauge.most <= 8  # they did overlap, never more than the pool


def test_the_window_bounds_calls_submitted_and_not_yet_taken() -> None:
    gauge = Gauge()
    workers = Workers(8, "test-")
    try:
        results = workers.in_order((gauge.call(n, 0.01) for n in range(40)), window=3)
        for taken, value in enumerate(results):
            assert value == taken
            time.sleep(0.02)  # a slow consumer: the calls ahead wait for it
            assert len(gauge.started) <= taken + 1 + 3  # taken, plus at most the window ahead
    finally:
        workers.close()
    assert gauge.most <= 3


def test_a_failure_is_raised_where_its_result_would_have_been_taken() -> None:
    gauge = Gauge()
    workers = Workers(4, "test-")
    taken: list[int] = []
    try:
        calls = [gauge.call(n, 0.0, fail=n == 5) for n in range(20)]
        with pytest.raises(ValueError, match="call 5 failed"):
            taken.extend(workers.in_order(calls))
    finally:
        workers.close()
    assert taken == [0, 1, 2, 3, 4]
    assert max(gauge.started) < 5 + 4 + 1  # nothing far beyond the failure was started


def test_stopping_early_cancels_what_did_not_start_and_tells_running_calls_to_stop() -> None:
    stopped = threading.Event()
    finished: list[int] = []

    def long_call(n: int) -> Callable[[Task], int]:
        def run(task: Task) -> int:
            for _ in range(2 if n == 0 else 400):  # the first is small; the next ones are big files
                if task.stopping:
                    stopped.set()
                    return -1
                time.sleep(0.005)
            finished.append(n)
            return n

        return run

    workers = Workers(4, "test-")
    try:
        results = workers.in_order(long_call(n) for n in range(100))
        first = next(results)
        results.close()  # the consumer stops: the calls ahead are stopped and waited for
        assert first == 0
        assert stopped.is_set()
        assert len(finished) < 8  # the rest never ran to the end
    finally:
        workers.close()


def test_one_worker_runs_each_call_in_the_consumers_thread_when_its_result_is_taken() -> None:
    threads: list[str] = []
    order: list[str] = []

    def call(n: int) -> Callable[[Task], int]:
        def run(task: Task) -> int:
            threads.append(threading.current_thread().name)
            order.append(f"run {n}")
            return n

        return run

    workers = Workers(1, "test-")
    for value in workers.in_order(call(n) for n in range(3)):
        order.append(f"took {value}")
    assert threads == [threading.current_thread().name] * 3
    assert order == ["run 0", "took 0", "run 1", "took 1", "run 2", "took 2"]


def test_a_call_started_ahead_is_taken_later_or_cancelled() -> None:
    workers = Workers(2, "test-")
    try:
        gauge = Gauge()
        ahead = workers.ahead(gauge.call(42, 0.01))
        assert ahead.result() == 42
        seen_stop = threading.Event()
        running = threading.Event()

        def long(task: Task) -> int:
            running.set()
            while not task.stopping:
                time.sleep(0.001)
            seen_stop.set()
            return 0

        started = workers.ahead(long)
        assert running.wait(5)
        started.cancel()
        assert seen_stop.is_set()
    finally:
        workers.close()


# ---- the client across threads ----------------------------------------------------------------


def test_a_429_holds_every_send_of_the_source_not_only_the_worker_that_met_it(emulator: Emulator) -> None:
    """One call meets 429 with Retry-After: 1; the others, already waiting to send, wait too."""
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()
    refused = threading.Event()

    def answer(request: Request) -> Response:
        with lock:
            arrivals.append((time.monotonic(), request.path))
            first_refusal = request.path == "/slow" and not refused.is_set()
            if first_refusal:
                refused.set()
        if first_refusal:
            return Response.json(429, {"error": "slow down"}, headers={"Retry-After": "1"})
        return Response.json(200, {"ok": request.path})

    mount(emulator, Script(answer))
    client = make_client(emulator, max_concurrent_requests=4)
    assert client.workers.size == 4

    def call(path: str, delay: float) -> Callable[[Task], object]:
        def run(task: Task) -> object:
            time.sleep(delay)
            return client.json(get(client, path), stream="s").json()

        return run

    try:
        paths = ["/slow"] + [f"/other-{n}" for n in range(6)]
        results = list(client.workers.in_order(call(path, 0.0 if path == "/slow" else 0.3) for path in paths))
    finally:
        client.close()
    assert [r["ok"] for r in results] == paths
    refusal = next(moment for moment, path in arrivals if path == "/slow")
    others = [moment for moment, path in arrivals if path.startswith("/other")]
    assert len(others) == 6
    assert min(others) - refusal >= 0.9  # nobody sent during the second the vendor asked for
    assert client.retries["s"] == 1


def test_one_token_for_all_workers(emulator: Emulator) -> None:
    tokens = 0
    lock = threading.Lock()

    def answer(request: Request) -> Response:
        nonlocal tokens
        if request.path == "/token":
            with lock:
                tokens += 1
            time.sleep(0.2)  # a slow token endpoint: every worker finds the token missing meanwhile
            return Response.json(200, {"access_token": "tok", "expires_in": 3600})
        return Response.json(200, {"ok": request.path})

    mount(emulator, Script(answer))
    client = token_client(emulator)
    client.workers = Workers(8, "test-")
    try:
        calls = [lambda task, n=n: client.json(get(client, f"/p{n}"), stream="s").json() for n in range(16)]
        assert [r["ok"] for r in client.workers.in_order(calls)] == [f"/p{n}" for n in range(16)]
    finally:
        client.close()
    assert tokens == 1


def test_a_stopped_batch_does_not_sit_out_a_retry_wait(emulator: Emulator) -> None:
    """A call ahead meets 429 with Retry-After: 30; the consumer stops; the worker stops waiting at once."""
    mount(emulator, Script(lambda request: Response.json(429, {}, headers={"Retry-After": "30"})))
    client = make_client(emulator, max_concurrent_requests=2)
    try:
        started = time.monotonic()
        ahead = client.workers.ahead(lambda task: client.json(get(client), stream="s"))
        time.sleep(0.3)  # the 429 is in, the worker waits its 30 s
        ahead.cancel()
        assert time.monotonic() - started < 5
        with pytest.raises(CallStoppedError):
            ahead.result()
    finally:
        client.close()


def test_calls_are_submitted_with_termination_signals_held() -> None:
    """A SIGTERM's exception raised while ``submit`` starts a thread would leave it unknown to the
    interpreter's exit, which would then wait for it forever: the tap holds signals meanwhile."""
    workers = Workers(3, "held-")
    held: list[bool] = []
    holding = threading.local()

    class Hold:
        def __enter__(self) -> None:
            holding.on = True

        def __exit__(self, *exc: object) -> None:
            holding.on = False
            held.append(True)

    workers.hold = Hold  # a context manager factory, as the tap's uninterrupted

    def value(n: int) -> Callable[[Task], int]:
        return lambda _task: n

    try:
        assert list(workers.in_order([value(n) for n in range(5)])) == list(range(5))
        assert workers.ahead(lambda _task: "next").result() == "next"
    finally:
        workers.close()
    assert len(held) == 6  # every submit, and only while it was submitted
    assert not getattr(holding, "on", False)
