"""The emulator process of a benchmark run: ``python -m benchmarks.serve PLAN.json [--latency-seconds S]``.

It mounts one emulated vendor per data set under ``/<id>``, prints one JSON line
(``{"port": ..., "datasets": {id: facts}}``) once it listens, and serves until it is
terminated. Chunked bodies go out in 1 MiB pieces (``piece_bytes``), not the tests'
irregular 1 byte..64 KiB pieces, so the emulator is not what limits a transfer.

``--latency-seconds`` answers every request that much later and ``--bytes-per-second`` caps
each connection (the WAN cases). ``GET /_emulator/requests`` answers the requests served
so far per data set (``{"/<id>": count}``): the calls a client made are counted by the
server, not by the client.

It runs in a process of its own so that it never competes with a measured client for
that client's GIL.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
import typing as t
from collections import Counter

from benchmarks import datasets as ds
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator, Request, Response
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator

#: Where the request counters are served.
COUNTERS_PREFIX = "/_emulator"

PIECE_BYTES = 1 << 20


class CachedVacancies(TalentsoftEmulator):
    """Talentsoft whose vacancy frames are built once, then served from memory.

    Building a zip costs the emulator about as much as reading it costs a client: without
    the cache the wire floor of the vacancies case would measure the emulator. The frames
    (a few hundred bytes each) are built when the server starts, so every client, the
    first one included, is served from memory.
    """

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._cache = [
            bytes(super(CachedVacancies, self)._archive("vacancies", i, i, None, {})) for i in range(self.vacancy_count)
        ]

    def _archive(  # options: whatever the emulator's version passes on (resume_only ...)
        self, kind: str, index: int, position: int, hit: str | None, params: dict[str, object], **options: t.Any
    ) -> memoryview:
        if kind == "vacancies" and hit is None and not any(options.values()) and index == position < len(self._cache):
            return memoryview(self._cache[index])
        return super()._archive(kind, index, position, hit, params, **options)


class Counters:
    """``GET /_emulator/requests``: the requests the server answered, per data set prefix."""

    prefix = COUNTERS_PREFIX

    def __init__(self) -> None:
        self.emulator: Emulator | None = None

    def handle(self, request: Request) -> Response:
        if request.path != "/requests" or self.emulator is None:
            return Response.json(404, {"message": "GET /_emulator/requests"})
        per_prefix: Counter[str] = Counter()
        for (prefix, _method), count in self.emulator.requests().items():
            per_prefix[prefix] += count
        return Response.json(200, dict(per_prefix))


class Memoized:
    """A vendor whose successful GET answers are built once, then served from memory.

    HrFlow's emulator sorts and copies the whole source for every page (about 50 ms a page
    at 12,000 profiles, under one GIL): without the memo the WAN case would measure the
    emulator. The key is the path, the query (order aside) and the credentials, so a wrong
    key is still refused; answers only change when the data does, and it does not here.
    The runner makes one untimed warm-up run first (``MEMOIZED``).
    """

    CREDENTIALS = ("authorization", "x-api-key", "x-user-email")

    def __init__(self, vendor: t.Any) -> None:
        self.vendor = vendor
        self.prefix = vendor.prefix
        self._answers: dict[tuple[object, ...], Response] = {}
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        if request.method != "GET":
            return t.cast("Response", self.vendor.handle(request))
        key = (
            request.path,
            tuple(sorted((name, tuple(values)) for name, values in request.query.items())),
            tuple(request.headers.get(name) for name in self.CREDENTIALS),
        )
        with self._lock:
            known = self._answers.get(key)
        if known is not None:
            return dataclasses.replace(known, headers=dict(known.headers))
        answer: Response = self.vendor.handle(request)
        if answer.status == 200 and isinstance(answer.body, bytes) and not answer.chunked:
            with self._lock:
                self._answers[key] = answer
            answer = dataclasses.replace(answer, headers=dict(answer.headers))
        return answer


def build(dataset: dict[str, t.Any]) -> tuple[t.Any, dict[str, t.Any]]:
    """The vendor of one data set, mounted at ``/<id>``, and the facts the report needs."""
    case, size = dataset["case"], dataset["size"]
    facts: dict[str, t.Any] = {}
    vendor: t.Any
    if ds.is_wan(case):
        vendor = build_wan(case, size, facts)
    elif case == "vacancies":
        vendor = CachedVacancies(vacancies=size, candidates=0, categories={})
        facts["records"] = size
    elif case in {"candidates", "curve"}:
        if case == "candidates":
            vendor = TalentsoftEmulator(
                vacancies=0,
                candidates=size,
                attachments_per_candidate=ds.ATTACHMENTS_PER_CANDIDATE,
                attachment_size=ds.ATTACHMENT_SIZE,
                compress_attachments=False,  # CVs are PDFs and DOCX: stored, as they do not deflate
                categories={},
            )
        else:
            vendor = TalentsoftEmulator(
                vacancies=0,
                candidates=ds.CURVE_FRAMES,
                attachments_per_candidate=(1, 1),
                attachment_size=(size, size),
                compress_attachments=False,
                categories={},
            )
        sizes = [[a.size for a in vendor.attachments(f"CAND-{i + 1:05d}")] for i in range(vendor.candidate_count)]
        facts["records"] = vendor.candidate_count
        facts["attachments"] = sum(len(s) for s in sizes)
        facts["applications"] = sum(len(doc["applications"]) for doc in vendor.candidate_docs())
        facts["attachment_bytes"] = sum(sum(s) for s in sizes)
        facts["largest_attachments_in_a_frame"] = max(sum(s) for s in sizes)
    elif case == "youserve":
        vendor = YouserveEmulator(files=[])
        vendor.add_file("export.bin", ds.YOUSERVE_BUSINESS_TYPE, size)
        facts["records"] = 1
        facts["file_bytes"] = size
    elif case == "coresignal":
        vendor = CoresignalEmulator(
            jobs=size,
            files_per_request=ds.CORESIGNAL_FILES,
            polls_until_ready=0,
            credits=10**9,
            rate_limit=10**6,  # the emulator's 27 requests/s would only add sleeps, not cost
        )
        facts["records"] = size
    else:
        msg = f"unknown case {case!r}"
        raise ValueError(msg)
    vendor.prefix = "/" + dataset["id"]
    if dataset["case"] in ds.MEMOIZED:
        vendor = Memoized(vendor)
    return vendor, facts


def build_wan(case: str, size: int, facts: dict[str, t.Any]) -> t.Any:
    """The vendor of a WAN data set: many small answers, where the round trips are the cost."""
    vendor: t.Any
    facts["records"] = size
    if case == "wan-youserve":
        vendor = YouserveEmulator(files=[])
        for index in range(size):
            vendor.add_file(f"payslips-{index:05d}.csv", ds.YOUSERVE_BUSINESS_TYPE, ds.WAN_FILE_BYTES)
        facts["file_bytes"] = size * ds.WAN_FILE_BYTES
    elif case == "wan-hrflow":
        vendor = HrflowEmulator(
            sources={ds.HRFLOW_SOURCE: size}, boards={}, extra_sources=0, extra_boards=0, shape="current"
        )
    elif case == "wan-coresignal":
        vendor = CoresignalEmulator(
            jobs=size, files_per_request=ds.CORESIGNAL_WAN_FILES, polls_until_ready=0, credits=10**9
        )  # its own rate limit (27 requests/s) kept: the tap's limiter must hold it under concurrency
        facts["files"] = ds.CORESIGNAL_WAN_FILES
    elif case == "wan-vacancies":
        vendor = CachedVacancies(vacancies=size, candidates=0, categories={})
    else:
        msg = f"unknown WAN case {case!r}"
        raise ValueError(msg)
    return vendor


def main(argv: list[str] | None = None) -> int:
    """Serve the data sets of a plan until terminated."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve")
    parser.add_argument("plan", help="the plan: a JSON list of data sets")
    parser.add_argument("--latency-seconds", type=float, default=0.0, help="delay before each answer")
    parser.add_argument("--bytes-per-second", type=float, default=None, help="bandwidth cap per connection")
    args = parser.parse_args(argv)
    with open(args.plan, encoding="utf-8") as handle:
        plan = json.load(handle)
    counters = Counters()
    vendors: list[t.Any] = [counters]
    facts = {}
    for dataset in plan:
        vendor, facts[dataset["id"]] = build(dataset)
        vendors.append(vendor)
    emulator = Emulator(
        vendors,
        port=0,
        piece_bytes=PIECE_BYTES,
        latency_seconds=args.latency_seconds,
        bytes_per_second=args.bytes_per_second,
    )
    counters.emulator = emulator
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(json.dumps({"port": emulator.port, "datasets": facts}), flush=True)
    try:
        emulator.serve_forever()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
