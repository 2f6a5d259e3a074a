"""Where the tap's time goes: a py-spy (or cProfile) run of the tap, summed by component.

``python -m benchmarks.profiling STACKS_FILE`` prints the summary of a py-spy ``--format raw``
file (one ``frame;frame;... count`` line per distinct stack). Each sample is given to the
component of the frame nearest the leaf that belongs to a known component, so a stdlib
helper counts for whoever called it.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter

#: (component, test on "function (file:line)"), nearest the leaf wins.
COMPONENTS: tuple[tuple[str, t.Callable[[str, str], bool]], ...] = (
    ("JSON decode (msgspec, json)", lambda f, p: "json/" in p or f.endswith("loads")),
    ("zipfile: the frame's central directory", lambda f, p: p.endswith("zipfile.py")),
    (
        "HTTP client (requests, urllib3, http.client, socket)",
        lambda f, p: any(s in p for s in ("requests/", "urllib3/", "http/client.py", "socket.py", "backoff/")),
    ),
    (
        "SDK: Singer message writer (msgspec) and stdout",
        lambda f, p: (
            "contrib/msgspec" in p
            or "_singerlib/encoding" in p
            or "singerlib/encoding" in p
            or f in {"write_message", "format_message", "serialize_message"}
        ),
    ),
    (
        "SDK: selection pass over the record (pop_deselected_record_properties)",
        lambda f, p: (
            f.endswith("pop_deselected_record_properties")
            or ("singerlib/catalog.py" in p and f.endswith("__missing__"))
        ),
    ),
    ("SDK: type conformance (conform_record_data_types)", lambda f, p: "helpers/_typing.py" in p),
    ("SDK: state, bookmarks, metrics, sync loop", lambda f, p: "singer_sdk/" in p),
    (
        "tap-hrdata: framing.py (frame reader, zip entries read in place, inflate)",
        lambda f, p: p.endswith("tap_hrdata/framing.py"),
    ),
    (
        "tap-hrdata: Talentsoft paging, JSON document checks, record building",
        lambda f, p: "tap_hrdata/sources/talentsoft/" in p,
    ),
    ("tap-hrdata: storage", lambda f, p: p.endswith("tap_hrdata/storage.py")),
    ("tap-hrdata: other", lambda f, p: "tap_hrdata/" in p),
)
STARTUP = "start-up: imports, config, catalog (once per run)"
OTHER = "other"


def _split(frame: str) -> tuple[str, str]:
    name, _, where = frame.rpartition(" (")
    return name, where.rstrip(")").rsplit(":", 1)[0]


def component(stack: list[str]) -> str:
    """The component a sample (frames from root to leaf) is charged to."""
    if not any("sync_all" in frame for frame in stack):
        return STARTUP
    for frame in reversed(stack):
        name, path = _split(frame)
        for label, test in COMPONENTS:
            if test(name, path):
                return label
    return OTHER


def summarize_raw(text: str) -> Counter[str]:
    """Samples per component from py-spy's raw (collapsed) output."""
    totals: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        totals[component(stack.split(";"))] += int(count)
    return totals


def table(totals: Counter[str]) -> list[tuple[str, float]]:
    """(component, share of the run) rows, largest first."""
    whole = sum(totals.values()) or 1
    return [(label, count / whole) for label, count in totals.most_common()]


def main(argv: list[str] | None = None) -> int:
    """Print the summary of a py-spy raw file."""
    path = (sys.argv[1:] if argv is None else argv)[0]
    with open(path, encoding="utf-8") as handle:
        rows = table(summarize_raw(handle.read()))
    for label, share in rows:
        print(f"{share:6.1%}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def summarize_pstats(path: str) -> Counter[str]:
    """Self time per component from a cProfile stats file (the fallback when py-spy cannot run).

    cProfile has no stacks here, so a stdlib helper counts as "other", and import time
    (``importlib``) as start-up.
    """
    import pstats

    totals: Counter[str] = Counter()
    for (file, _, name), (_, _, self_time, _, _) in pstats.Stats(path).stats.items():  # type: ignore[attr-defined]
        if "importlib" in file or name.startswith("<frozen"):
            totals[STARTUP] += self_time
            continue
        label = next((label for label, test in COMPONENTS if test(name, file)), OTHER)
        totals[label] += self_time
    return totals
