"""The data sets of a benchmark run: which emulated vendor, how big, and what the tap is told.

A data set is a plain dict (it travels as JSON from the runner to the emulator process and
to the clients): ``id``, ``case``, ``vendor`` and the case's size parameters. Every data
set is mounted under its own prefix (``/<id>``) in one emulator process, so two sizes of a
case, or every point of the vendor-sample curve, are served side by side.

The WAN data sets (``"wan": true``) are served by a second emulator process that answers
every request ``WAN_LATENCY`` seconds late, as a vendor 50 ms away does: there the cost of
a run is its round trips, and the tap with ``max_concurrent_requests`` at its default is
run beside the same tap with ``max_concurrent_requests: 1``.
"""

from __future__ import annotations

import typing as t

MIB = 1 << 20

# Credentials of the emulated vendors (the emulators' defaults).
TALENTSOFT = {"client_id": "ts-client", "client_secret": "ts-secret-0123456789"}
YOUSERVE = {"client_id": "ys-client", "client_secret": "ys-secret-0123456789", "tenant_id": "sandbox"}
CORESIGNAL = {"api_token": "cs-token-0123456789"}
HRFLOW = {"api_key": "hrflow-key-0123456789", "user_email": "etl@example.com"}
CORESIGNAL_FILTERS = {"created_at_gte": "2000-01-01"}  # every job of the universe
CORESIGNAL_FILES = 10
YOUSERVE_BUSINESS_TYPE = 7101

PAGE_SIZE = 100  # Talentsoft export page (the tap's default `talentsoft.page_size`)
YOUSERVE_CHUNK = 4 * MIB  # Range request size (the tap's default `youserve.chunk_size_bytes`)
ATTACHMENT_SIZE = (1 * MIB, 20 * MIB)  # "1 to 20 MB each"
ATTACHMENTS_PER_CANDIDATE = (1, 3)

#: The cases, in report order: (case, label, what its records are).
CASES = (
    ("vacancies", "Talentsoft vacancies (many small frames)", "vacancies"),
    ("candidates", "Talentsoft candidates with attachments", "candidates"),
    ("youserve", "YouServe file (ranged, 4 MiB chunks)", "files"),
    ("coresignal", "Coresignal jobs (gzip JSON Lines)", "jobs"),
)

#: Two sizes per case: (full run, --quick run).
SIZES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "vacancies": ((10_000, 40_000), (2_000, 8_000)),  # records
    "candidates": ((30, 90), (8, 24)),  # candidates (about 20 MB of attachments each)
    "youserve": ((256 * MIB, 1024 * MIB), (64 * MIB, 256 * MIB)),  # bytes of the one file
    "coresignal": ((25_000, 100_000), (5_000, 20_000)),  # jobs
}

#: Frame sizes of the vendor-sample curve (one attachment of this size per frame).
CURVE_FRAME_SIZES = ((2 * MIB, 4 * MIB, 8 * MIB, 16 * MIB, 32 * MIB), (1 * MIB, 2 * MIB, 4 * MIB, 8 * MIB))
CURVE_FRAMES = 2  # frames per size


#: Seconds the WAN emulator waits before each answer (a vendor 50 ms away).
WAN_LATENCY = 0.05
#: The name of the WAN case group in ``--cases``.
WAN = "wan"
#: The WAN cases, in report order: (case, label, what its records are).
WAN_CASES = (
    ("wan-youserve", "YouServe small files", "files"),
    ("wan-hrflow", "HrFlow profiles (100 per page)", "profiles"),
    ("wan-coresignal", "Coresignal jobs (one data request's files)", "jobs"),
    ("wan-vacancies", "Talentsoft vacancies (pages of 100)", "vacancies"),
)
#: Two sizes per WAN case, (full run, --quick run): the sequential client pays calls x 50 ms.
WAN_SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "wan-youserve": ((300, 600), (100, 300)),  # files of WAN_FILE_BYTES
    "wan-hrflow": ((3_000, 12_000), (1_000, 3_000)),  # profiles
    "wan-coresignal": ((6_000, 12_000), (6_000,)),  # jobs, in CORESIGNAL_WAN_FILES files
    "wan-vacancies": ((2_000, 8_000), (2_000,)),  # vacancies
}
WAN_FILE_BYTES = 20_000  # a small delivered file: one GET, no HEAD, no Range
HRFLOW_PAGE_SIZE = 100  # the API's largest page
HRFLOW_SOURCE = "src-bench"
CORESIGNAL_WAN_FILES = 30
#: WAN cases whose emulator builds each answer once (``serve.Memoized``), in an untimed warm-up run.
MEMOIZED = ("wan-hrflow",)
#: Targets of the WAN group: wall time at most this share of the sequential floor (calls x latency).
WAN_RATIO_TARGET = 0.3
#: The WAN cases the target applies to, from this many records up (the issue's data sets).
WAN_TARGET_SIZES = {"wan-youserve": 300, "wan-hrflow": 3_000}


def plan(*, quick: bool, cases: t.Iterable[str]) -> list[dict[str, t.Any]]:
    """The data sets of a run (``cases`` may name the WAN group, ``wan``, or one WAN case)."""
    which = 1 if quick else 0
    datasets: list[dict[str, t.Any]] = []
    cases = list(cases)
    for case in cases:
        if case == WAN or is_wan(case):
            continue
        for size in SIZES[case][which]:
            datasets.append({"id": f"{case}-{size}", "case": case, "size": size})
    if "candidates" in cases:
        for size in CURVE_FRAME_SIZES[which]:
            datasets.append({"id": f"curve-{size}", "case": "curve", "size": size})
    for case, _, _ in WAN_CASES:
        if WAN in cases or case in cases:
            for size in WAN_SIZES[case][which]:
                datasets.append({"id": f"{case}-{size}", "case": case, "size": size, "wan": True})
    return datasets


def is_wan(case: str) -> bool:
    """A case of the WAN group."""
    return case.startswith("wan-")


def vendor_of(case: str) -> str:
    """The emulated vendor of a case."""
    case = case.removeprefix("wan-")
    return {"vacancies": "talentsoft", "candidates": "talentsoft", "curve": "talentsoft"}.get(case, case)


def export_of(case: str) -> str:
    """The Talentsoft export of a case."""
    return "vacancies" if case.removeprefix("wan-") == "vacancies" else "candidates"


def tap_config(
    dataset: dict[str, t.Any], base_url: str, files_url: str, *, max_concurrent_requests: int | None = None
) -> dict[str, t.Any]:
    """The tap's config for one data set: only its vendor is configured.

    ``max_concurrent_requests`` is left to the tap's default unless given.
    """
    config: dict[str, t.Any] = {"files_storage_url": files_url}
    vendor = vendor_of(dataset["case"])
    if vendor == "talentsoft":
        config["talentsoft"] = {
            "base_url": base_url,
            **TALENTSOFT,
            "page_size": PAGE_SIZE,
            "referential_categories": [],
        }
    elif vendor == "youserve":
        config["youserve"] = {
            "base_url": base_url,
            "token_url": base_url + "/authentication/token",
            **YOUSERVE,
            "business_types": [YOUSERVE_BUSINESS_TYPE],
            "chunk_size_bytes": YOUSERVE_CHUNK,
        }
    elif vendor == "hrflow":
        config["hrflow"] = {
            "base_url": base_url,
            **HRFLOW,
            "source_keys": [HRFLOW_SOURCE],
            "board_keys": [],
            "page_size": HRFLOW_PAGE_SIZE,
        }
    else:
        config["coresignal"] = {
            "base_url": base_url,
            **CORESIGNAL,
            "filters": CORESIGNAL_FILTERS,
            "poll_interval_seconds": 1,
        }
    if max_concurrent_requests is not None:
        config[vendor]["max_concurrent_requests"] = max_concurrent_requests
    return config


def tap_streams(case: str) -> tuple[str, ...]:
    """The streams the tap syncs for a case."""
    return {
        "vacancies": ("vacancies",),
        "candidates": ("candidates", "applications", "attachments"),
        "youserve": ("delivered_files",),
        "coresignal": ("bulk_jobs",),
        "hrflow": ("hrflow_profiles",),
    }[case.removeprefix("wan-")]
