"""The emulator process of a benchmark run: ``python -m benchmarks.serve PLAN.json``.

It mounts one emulated vendor per data set under ``/<id>``, prints one JSON line
(``{"port": ..., "datasets": {id: facts}}``) once it listens, and serves until it is
terminated. Chunked bodies go out in 1 MiB pieces (``piece_bytes``), not the tests'
irregular 1 byte..64 KiB pieces, so the emulator is not what limits a transfer.

It runs in a process of its own so that it never competes with a measured client for
that client's GIL.
"""

from __future__ import annotations

import json
import signal
import sys
import typing as t

from benchmarks import datasets as ds
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator

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

    def _archive(self, kind: str, index: int, position: int, hit: str | None, params: dict[str, object]) -> memoryview:
        if kind == "vacancies" and hit is None and index == position < len(self._cache):
            return memoryview(self._cache[index])
        return super()._archive(kind, index, position, hit, params)


def build(dataset: dict[str, t.Any]) -> tuple[t.Any, dict[str, t.Any]]:
    """The vendor of one data set, mounted at ``/<id>``, and the facts the report needs."""
    case, size = dataset["case"], dataset["size"]
    facts: dict[str, t.Any] = {}
    vendor: t.Any
    if case == "vacancies":
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
    return vendor, facts


def main(argv: list[str] | None = None) -> int:
    """Serve the data sets of a plan until terminated."""
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as handle:
        plan = json.load(handle)
    vendors, facts = [], {}
    for dataset in plan:
        vendor, facts[dataset["id"]] = build(dataset)
        vendors.append(vendor)
    emulator = Emulator(vendors, port=0, piece_bytes=PIECE_BYTES)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(json.dumps({"port": emulator.port, "datasets": facts}), flush=True)
    try:
        emulator.serve_forever()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
