"""Running one measured process: wall time, CPU time and peak RSS of that process alone."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import typing as t
from dataclasses import dataclass, field


@dataclass
class Run:
    """What one process cost."""

    seconds: float  # wall time, from start to exit
    cpu_seconds: float  # user + system
    peak_rss_bytes: int  # the process's high-water RSS (getrusage ru_maxrss)
    exit_code: int
    timed_out: bool = False
    extra: dict[str, t.Any] = field(default_factory=dict)


def measure(
    argv: list[str],
    *,
    stdout: str = os.devnull,
    stderr: str = os.devnull,
    deadline: float | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Run ``argv`` to its end (or ``deadline`` seconds), its output to files.

    ``os.wait4`` gives this child's own rusage: its peak RSS is the kernel's high-water
    mark of the whole process, not a sample.
    """
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        timer = threading.Timer(deadline, process.kill) if deadline else None
        if timer is not None:
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if timer is not None:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        timed_out = timer is not None and process.returncode == -signal.SIGKILL
    return Run(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_bytes=usage.ru_maxrss * 1024,
        exit_code=process.returncode,
        timed_out=timed_out,
    )
