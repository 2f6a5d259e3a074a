"""The emulated wide-area link: a delay before each answer and a bandwidth cap per connection.

The benchmark's WAN cases rest on two properties of the emulator: every answer is late by
``latency_seconds``, and the delay is slept in the connection's own thread, so concurrent
requests overlap (a server that serialized them would make a concurrent client look no
better than a sequential one). The upper bounds below are several times the ideal time and
well under the time of the serialized answers, so only a serializing server fails them.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter

import pytest

from tests.emulator.__main__ import main as emulator_main
from tests.emulator.server import Emulator, Request, Response

LATENCY = 0.5
BODY = b"0123456789abcdef" * 4096  # 64 KiB


class Echo:
    """A vendor answering every request with ``BODY`` (chunked on ``/chunked``)."""

    prefix = "/echo"

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.seen[request.path] += 1
        return Response(body=BODY, chunked=request.path == "/chunked")


def fetch(emulator: Emulator, path: str, connection: http.client.HTTPConnection | None = None) -> bytes:
    """GET ``/echo<path>`` (on ``connection`` when given: keep-alive), its whole body."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
    try:
        connection.request("GET", "/echo" + path)
        response = connection.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        if own:
            connection.close()


def concurrently(count: int, call: object) -> float:
    """Seconds for ``count`` threads, started together, to each run ``call``."""
    assert callable(call)
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return time.perf_counter() - started


@pytest.fixture
def echo() -> Echo:
    return Echo()


def test_each_answer_is_late_by_the_latency(echo: Echo) -> None:
    with Emulator([echo], latency_seconds=LATENCY) as emulator:
        connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
        started = time.perf_counter()
        for path in ("/a", "/chunked", "/b"):  # one keep-alive connection: every answer, not the first
            assert fetch(emulator, path, connection) == BODY
        elapsed = time.perf_counter() - started
        connection.close()
        assert elapsed >= 3 * LATENCY
        assert emulator.requests() == Counter({("/echo", "GET"): 3})


def test_delays_do_not_serialize_concurrent_requests(echo: Echo) -> None:
    with Emulator([echo], latency_seconds=LATENCY) as emulator:
        elapsed = concurrently(8, lambda: fetch(emulator, "/page"))
        assert echo.seen["/page"] == 8
        assert emulator.requests()[("/echo", "GET")] == 8
    # Serialized, the 8 answers take at least 8 x LATENCY (4 s); overlapped, about LATENCY.
    assert LATENCY <= elapsed < 4 * LATENCY


def test_latency_is_settable_while_serving(echo: Echo) -> None:
    with Emulator([echo]) as emulator:
        assert emulator.latency_seconds == 0
        emulator.latency_seconds = LATENCY
        started = time.perf_counter()
        fetch(emulator, "/late")
        assert time.perf_counter() - started >= LATENCY
        with pytest.raises(ValueError, match="latency_seconds"):
            emulator.latency_seconds = -1


def test_bandwidth_cap_per_connection(echo: Echo) -> None:
    rate = 2 * len(BODY)  # each body takes half a second on its own connection
    with Emulator([echo], bytes_per_second=rate) as emulator:
        started = time.perf_counter()
        assert fetch(emulator, "/chunked") == BODY
        assert time.perf_counter() - started >= len(BODY) / rate
        # Per connection, not shared: four at once take about as long as one (serialized: 2 s).
        elapsed = concurrently(4, lambda: fetch(emulator, "/plain"))
        assert len(BODY) / rate <= elapsed < 3 * len(BODY) / rate
        with pytest.raises(ValueError, match="bytes_per_second"):
            emulator.bytes_per_second = 0


def test_command_line_refuses_a_negative_latency(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        emulator_main(["--port", "0", "--latency-seconds", "-0.05"])
    assert stopped.value.code == 2
    assert "--latency-seconds" in capsys.readouterr().err
