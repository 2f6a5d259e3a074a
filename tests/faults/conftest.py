"""Shared setup of the fault suite: one small vendor per source, the exact records it must give.

Every case compares what the tap emitted with the emulator's data, key by key, so "nothing
lost, nothing twice" is checked, not assumed. Retries wait milliseconds (``Retry-After`` is
still honoured), so a burst of failures costs no real time.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import config_for, mount
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tests.conftest import SyncResult
    from tests.emulator.server import Emulator, Request, Response

SOURCES = ("talentsoft", "hrflow", "youserve", "coresignal")
STREAMS = {
    "talentsoft": (
        "vacancies",
        "candidates",
        "applications",
        "attachments",
        "referentials",
        "referential_translations",
    ),
    "hrflow": (
        "hrflow_profiles",
        "hrflow_jobs",
        "hrflow_sources",
        "hrflow_boards",
        "hrflow_trackings",
        "hrflow_ratings",
    ),
    "youserve": ("delivered_files",),
    "coresignal": ("bulk_jobs",),
}
#: The primary key of each stream's records, as one comparable value.
KEYS: dict[str, Callable[[dict[str, Any]], object]] = {
    "vacancies": lambda r: r["reference"],
    "candidates": lambda r: r["id"],
    "applications": lambda r: (r["candidate_id"], r["application_id"]),
    "attachments": lambda r: (r["candidate_id"], r["attachment_id"]),
    "referentials": lambda r: (r["category"], r["id"]),
    "referential_translations": lambda r: (r["category"], r["item_id"], r["language"]),
    "hrflow_profiles": lambda r: r["key"],
    "hrflow_jobs": lambda r: r["key"],
    "hrflow_sources": lambda r: r["key"],
    "hrflow_boards": lambda r: r["key"],
    "hrflow_trackings": lambda r: (r["role"], r["key"]),
    "hrflow_ratings": lambda r: (r["role"], r["key"]),
    "delivered_files": lambda r: r["file_id"],
    "bulk_jobs": lambda r: r["id"],
}
#: The files listing of a Coresignal data request the tap made (not the preflight's probe).
POLL = r"/(?!00000000-0000-0000-0000-000000000000/)[^/]+/files$"
#: The main data endpoint of each source (path regex, method): where most faults are armed.
MAIN_ENDPOINT = {
    "talentsoft": (r"/api/exports/v1/candidates$", "GET"),
    "hrflow": (r"^/storing/profiles$", "GET"),
    "youserve": (r"^/fileapi/v1\.0/files/.", "GET"),
    "coresignal": (r"/files/json/", "GET"),
}
#: The stream the main endpoint feeds, and the path the tap's errors show for it.
MAIN_STREAM = {
    "talentsoft": ("candidates", "/ts/api/exports/v1/candidates"),
    "hrflow": ("hrflow_profiles", "/hrflow/storing/profiles"),
    "youserve": ("delivered_files", "/youserve/fileapi/v1.0/files/"),
    "coresignal": ("bulk_jobs", "/coresignal/v1/bulk_collect/"),
}


def make_vendor(source: str, **options: Any) -> Any:
    """A small, fresh data set of ``source``: a whole sync takes a fraction of a second."""
    if source == "talentsoft":
        return TalentsoftEmulator(**{"vacancies": 25, "candidates": 12, "attachments_per_candidate": (1, 2), **options})
    if source == "hrflow":
        return HrflowEmulator(**{"sources": {"src-a": 25, "src-b": 10}, "boards": {"board-a": 15}, **options})
    if source == "youserve":
        return YouserveEmulator(**options)
    if source == "coresignal":
        return CoresignalEmulator(**{"jobs": 600, "polls_until_ready": 1, **options})
    raise ValueError(source)


#: Small pages, so paging and resume are exercised on small data sets.
SMALL_PAGES: dict[str, dict[str, Any]] = {
    "talentsoft": {"page_size": 10, "referential_categories": ["countries", "languages"]},
    "hrflow": {"page_size": 10},
    "youserve": {"page_size": 5, "chunk_size_bytes": 64 * 1024},
    "coresignal": {},
}


@dataclass
class Setup:
    """One source on the emulator: its vendor and a tap config for it alone."""

    source: str
    vendor: Any
    config: dict[str, Any]
    root: Path  # files_storage_url

    def settings(self, **values: Any) -> Setup:
        """Change settings of the source's block (returns self)."""
        self.config[self.source].update(values)
        return self

    def expected(self) -> dict[str, list[object]]:
        """Every key each stream must emit, once."""
        return expected_keys(self.source, self.vendor)


def setup_source(emulator: Emulator, source: str, tmp_path: Path, **vendor_options: Any) -> Setup:
    """Mount a fresh vendor of ``source`` and build a config for it alone."""
    vendor = mount(emulator, make_vendor(source, **vendor_options))
    root = tmp_path / "files"
    config = config_for(emulator, vendor, files=root, **{source: dict(SMALL_PAGES[source])})
    return Setup(source, vendor, config, root)


def expected_keys(source: str, vendor: Any) -> dict[str, list[object]]:
    """The keys of every record of every stream of ``source``, from the emulator's own data."""
    if source == "talentsoft":
        docs = list(vendor.candidate_docs())
        return {
            "vacancies": [d["offerDetail"]["reference"] for d in vendor.vacancy_docs()],
            "candidates": [d["candidateDetail"]["id"] for d in docs],
            "applications": [(d["candidateDetail"]["id"], a["id"]) for d in docs for a in d["applications"]],
            "attachments": [(d["candidateDetail"]["id"], a["id"]) for d in docs for a in d["attachments"]],
            "referentials": [
                (category, str(item["id"]))
                for category in ("countries", "languages")
                for item in vendor.referential(category)
            ],
            "referential_translations": [
                (category, key, translation["lcid"])
                for category in ("countries", "languages")
                for key, translations in vendor.system.translations(category).items()
                for translation in translations
            ],
        }
    if source == "hrflow":
        return {
            "hrflow_profiles": [p["key"] for p in vendor.profiles()],
            "hrflow_jobs": [j["key"] for j in vendor.jobs()],
            "hrflow_sources": list(vendor.source_keys()),
            "hrflow_boards": list(vendor.board_keys()),
            "hrflow_trackings": [(i["role"], i["key"]) for i in vendor.activity.trackings()],
            "hrflow_ratings": [(i["role"], i["key"]) for i in vendor.activity.ratings()],
        }
    if source == "youserve":
        return {"delivered_files": [e["fileId"] for e in vendor.entries()]}
    if source == "coresignal":
        return {"bulk_jobs": [job["id"] for rid in vendor.data_requests for job in vendor.jobs_for_request(rid)]}
    raise ValueError(source)


def emitted_keys(records_of: Callable[[str], list[dict[str, Any]]], streams: Iterable[str]) -> dict[str, list[object]]:
    """The key of every record emitted, stream by stream."""
    return {stream: [KEYS[stream](r) for r in records_of(stream)] for stream in streams}


def difference(emitted: list[object], expected: list[object]) -> str:
    """What is missing, unexpected or repeated, for an assertion message."""
    got, want = Counter(emitted), Counter(expected)
    missing = sorted(map(repr, (want - got).elements()))
    extra = sorted(map(repr, (got - want).elements()))
    return f"missing {missing[:10]} ({len(missing)}), unexpected or repeated {extra[:10]} ({len(extra)})"


def assert_exactly_once(result: SyncResult, setup: Setup) -> None:
    """Every record of the source's data, each exactly once."""
    expected = setup.expected()
    emitted = emitted_keys(result.records, expected)
    for stream, keys in expected.items():
        assert sorted(map(repr, emitted[stream])) == sorted(map(repr, keys)), (
            f"{stream}: {difference(emitted[stream], keys)}"
        )


def assert_union_complete(results: Iterable[SyncResult], setup: Setup) -> None:
    """Across runs: every record of the source's data at least once, nothing else."""
    results = list(results)
    expected = setup.expected()
    for stream, keys in expected.items():
        emitted = [KEYS[stream](r) for result in results for r in result.records(stream)]
        assert set(map(repr, emitted)) == set(map(repr, keys)), f"{stream}: {difference(emitted, keys)}"


class RequestLog:
    """Times and paths of the requests a vendor answered (wrapping its ``handle``)."""

    def __init__(self, vendor: Any, before: Callable[[Request], None] | None = None) -> None:
        self.entries: list[tuple[float, str, str]] = []
        original: Callable[[Request], Response] = vendor.handle

        def handle(request: Request) -> Response:
            self.entries.append((time.monotonic(), request.method, request.path))
            if before is not None:
                before(request)
            return original(request)

        vendor.handle = handle

    def times(self, path_regex: str, method: str | None = None) -> list[float]:
        """When requests matching ``path_regex`` (and ``method``) arrived."""
        import re

        return [at for at, m, path in self.entries if re.search(path_regex, path) and method in (None, m)]
