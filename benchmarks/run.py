"""The benchmark run: ``python -m benchmarks [--quick]`` (see BENCHMARKS.md for what it measures).

One emulator process serves every data set (a second one, answering 50 ms late, the WAN
data sets); each client (wire floor, job floor, vendor sample, the tap) runs as its own
process, one at a time, so its peak RSS and CPU time are its own. Each measurement is
repeated (``--repeat``, clients interleaved) and the fastest run is kept, since other work
on the machine can only slow a run down. File bytes go to a temporary folder on the same
disk as the tap's default storage; it is synced (untimed) and emptied after every run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request
from pathlib import Path

from benchmarks import datasets as ds
from benchmarks import profiling as prof
from benchmarks.harness import Run, measure

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("vendor", "wire", "job", "tap")
CLIENT_LABELS = {
    "wire": "wire floor",
    "job": "job floor",
    "vendor": "vendor sample",
    "tap": "tap-hrdata",
}
VENDOR_DEADLINE = (30.0, 15.0)  # seconds given to the vendor sample on attachments (full, quick)
RUN_DEADLINE = 600.0
#: The tap as the WAN cases run it: (client, max_concurrent_requests; None: the source's default).
WAN_CLIENTS: tuple[tuple[str, int | None], ...] = (("tap", None), ("tap-1", 1))
WAN_DEADLINE = 180.0  # a WAN run takes seconds (the sequential one, at most about 35 s): a hung tap is stopped
_SUMMARY = re.compile(r"Summary of stream '([^']+)': (\d+) records(?:, (\d+) files)?(?:, (\d+) bytes)?")


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


class Emulator:
    """An emulator process of the run (``latency_seconds``: the WAN one)."""

    def __init__(
        self, plan: list[dict[str, t.Any]], workdir: Path, *, latency_seconds: float = 0.0, name: str = "emulator"
    ) -> None:
        plan_file = workdir / f"{name}-plan.json"
        plan_file.write_text(json.dumps(plan))
        self.latency_seconds = latency_seconds
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serve", str(plan_file), "--latency-seconds", str(latency_seconds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=(workdir / f"{name}.log").open("wb"),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            msg = f"the emulator did not start: see {workdir / f'{name}.log'}"
            raise RuntimeError(msg)
        hello = json.loads(line)
        self.port = hello["port"]
        self.facts: dict[str, dict[str, t.Any]] = hello["datasets"]

    def url(self, dataset_id: str) -> str:
        """Base URL of one data set."""
        return f"http://127.0.0.1:{self.port}/{dataset_id}"

    def calls(self, dataset_id: str) -> int:
        """Requests the emulator has answered so far on one data set (its own count)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_emulator/requests", timeout=30) as answer:
            return int(json.loads(answer.read()).get("/" + dataset_id, 0))

    def stop(self) -> None:
        """Terminate it (by its own pid)."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Bench:
    """Runs the clients of every data set and collects the numbers."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.files = workdir / "files"
        self.results: list[dict[str, t.Any]] = []
        self.catalogs: dict[str, Path] = {}

    # ---- one run ----------------------------------------------------------------------------

    def clean(self) -> float:
        """Flush and drop the files of the last run (untimed); seconds it took."""
        started = time.perf_counter()
        os.sync()
        shutil.rmtree(self.files, ignore_errors=True)
        os.sync()
        return time.perf_counter() - started

    def client_run(self, kind: str, dataset: dict[str, t.Any], url: str, deadline: float | None = None) -> Run:
        result_file = self.workdir / f"{kind}.json"
        result_file.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "benchmarks.clients",
            kind,
            json.dumps(dataset),
            url,
            str(self.files),
            str(result_file),
        ]
        run = measure(argv, stderr=str(self.workdir / f"{kind}.log"), deadline=deadline)
        if result_file.exists():
            run.extra = json.loads(result_file.read_text())
        if run.exit_code != 0 and not run.timed_out:
            log(f"  {kind} failed (exit {run.exit_code}): see {self.workdir / f'{kind}.log'}")
        return run

    def catalog(self, case: str, config: Path) -> Path:
        """The case's catalog (discovered once per case, untimed), its streams selected."""
        if case not in self.catalogs:
            discovered = subprocess.run(
                [sys.executable, "-m", "tap_hrdata", "--config", str(config), "--discover"],
                capture_output=True,
                check=True,
                cwd=ROOT,
            )
            catalog = json.loads(discovered.stdout)
            for stream in catalog["streams"]:
                selected = stream["tap_stream_id"] in ds.tap_streams(case)
                for entry in stream["metadata"]:
                    if entry["breadcrumb"] == []:
                        entry["metadata"]["selected"] = selected
            path = self.workdir / f"catalog-{case}.json"
            path.write_text(json.dumps(catalog))
            self.catalogs[case] = path
        return self.catalogs[case]

    def tap_argv(self, dataset: dict[str, t.Any], url: str, *, max_concurrent_requests: int | None = None) -> list[str]:
        config = self.workdir / f"config-{dataset['id']}-{max_concurrent_requests or 'default'}.json"
        settings = ds.tap_config(dataset, url, str(self.files), max_concurrent_requests=max_concurrent_requests)
        config.write_text(json.dumps(settings))
        catalog = self.catalog(dataset["case"], config)
        return [sys.executable, "-m", "tap_hrdata", "--config", str(config), "--catalog", str(catalog)]

    def tap_run(
        self,
        dataset: dict[str, t.Any],
        url: str,
        *,
        max_concurrent_requests: int | None = None,
        deadline: float = RUN_DEADLINE,
    ) -> Run:
        argv = self.tap_argv(dataset, url, max_concurrent_requests=max_concurrent_requests)
        log_file = self.workdir / "tap.log"
        run = measure(argv, stderr=str(log_file), deadline=deadline)
        text = log_file.read_text(errors="replace")
        summary = {
            m[1]: {"records": int(m[2]), "files": int(m[3] or 0), "bytes": int(m[4] or 0)}
            for m in _SUMMARY.finditer(text)
        }
        run.extra = {"summary": summary}
        if run.exit_code != 0:
            log(f"  tap failed (exit {run.exit_code}): {text.strip().splitlines()[-1:]} (log: {log_file})")
        return run

    # ---- one data set -----------------------------------------------------------------------

    def dataset(self, emulator: Emulator, dataset: dict[str, t.Any]) -> None:
        case = dataset["case"]
        facts = {**dataset, **emulator.facts[dataset["id"]]}
        url = emulator.url(dataset["id"])
        vendor_too = ds.vendor_of(case) == "talentsoft"
        best: dict[str, Run] = {}
        runs_of: dict[str, list[float]] = {}
        largest = dataset["size"] == max(ds.SIZES[case][1 if self.args.quick else 0])
        for attempt in range(self.args.repeat):
            for kind in CLIENTS:
                if kind == "vendor" and (not vendor_too or attempt > 0):
                    continue  # the vendor sample is slow and never the one compared against
                if kind == "vendor" and case == "candidates" and largest:
                    continue  # quadratic: projected from the curve instead (see the notes)
                self.clean()
                deadline = (
                    VENDOR_DEADLINE[self.args.quick] if kind == "vendor" and case == "candidates" else RUN_DEADLINE
                )
                run = self.tap_run(facts, url) if kind == "tap" else self.client_run(kind, facts, url, deadline)
                runs_of.setdefault(kind, []).append(run.seconds)
                if kind not in best or (
                    run.exit_code == 0 and (best[kind].exit_code != 0 or run.seconds < best[kind].seconds)
                ):
                    best[kind] = run
                log(
                    f"  {dataset['id']:>22} {kind:>6}: {run.seconds:7.2f} s, {run.cpu_seconds:6.2f} s CPU, "
                    f"{run.peak_rss_bytes / 1e6:6.1f} MB peak RSS{' (deadline)' if run.timed_out else ''}"
                )
        self.clean()
        job = best.get("job")
        body_bytes = (job.extra.get("body_bytes") if job else None) or best["wire"].extra.get("body_bytes", 0)
        for kind, run in best.items():
            self.results.append(
                {
                    "dataset": dataset["id"],
                    "case": case,
                    "size": dataset["size"],
                    "client": kind,
                    "facts": {k: v for k, v in facts.items() if k != "frame_bytes"},
                    "frame_bytes": (job.extra.get("frame_bytes") if job else None),
                    "body_bytes": body_bytes,
                    "seconds": run.seconds,
                    "all_seconds": runs_of[kind],
                    "cpu_seconds": run.cpu_seconds,
                    "peak_rss_bytes": run.peak_rss_bytes,
                    "exit_code": run.exit_code,
                    "timed_out": run.timed_out,
                    "extra": run.extra,
                    "check": self.check(kind, run, facts, body_bytes),
                }
            )

    @staticmethod
    def check(kind: str, run: Run, facts: dict[str, t.Any], body_bytes: int) -> str:
        """ "ok", or what the client failed to do."""
        if run.timed_out:
            return "stopped at its deadline"
        if run.exit_code != 0:
            return f"exit code {run.exit_code}"
        case = facts["case"]
        if kind == "tap":
            summary = run.extra.get("summary", {})
            main_stream = ds.tap_streams(case)[0]
            got = summary.get(main_stream, {}).get("records")
            if got != facts["records"]:
                return f"{main_stream}: {got} records, expected {facts['records']}"
            if case == "candidates" and summary.get("attachments", {}).get("bytes") != facts["attachment_bytes"]:
                return "attachments: stored bytes differ"
            stored = summary.get(main_stream, {}).get("bytes")
            if case in {"youserve", "wan-youserve"} and stored != facts["file_bytes"]:
                return "delivered_files: stored bytes differ"
            return "ok"
        extra = run.extra
        if extra.get("records") != facts["records"] or extra.get("body_bytes") != body_bytes:
            return f"{extra.get('records')} records / {extra.get('body_bytes')} bytes"
        if kind == "job" and case == "candidates" and extra.get("stored_bytes") != facts["attachment_bytes"]:
            return "stored bytes differ"
        return "ok"

    # ---- one WAN data set: the tap at its default concurrency, and one request at a time ---------

    def wan_dataset(self, emulator: Emulator, dataset: dict[str, t.Any]) -> None:
        """The tap at its default ``max_concurrent_requests`` (best of ``--repeat``) and at 1 (once).

        The calls of a run are the emulator's count on the data set's prefix, taken before
        and after it, so the floors count what the tap really sent (retries, listings and
        token calls included). The sequential client runs once: its time is its calls'
        latency, which other work on the machine barely changes.
        """
        facts = {**dataset, **emulator.facts[dataset["id"]]}
        url = emulator.url(dataset["id"])
        vendor = ds.vendor_of(dataset["case"])
        best: dict[str, tuple[Run, int]] = {}
        runs_of: dict[str, list[float]] = {}
        if dataset["case"] in ds.MEMOIZED:  # the emulator builds its answers once: not in a measured run
            self.clean()
            warm = self.tap_run(facts, url, deadline=WAN_DEADLINE)
            log(f"  {dataset['id']:>22} warm-up: {warm.seconds:7.2f} s (untimed: the emulator builds its answers)")
        for attempt in range(self.args.repeat):
            for kind, concurrency in WAN_CLIENTS:
                if concurrency == 1 and attempt > 0:
                    continue
                self.clean()
                before = emulator.calls(dataset["id"])
                run = self.tap_run(facts, url, max_concurrent_requests=concurrency, deadline=WAN_DEADLINE)
                calls = emulator.calls(dataset["id"]) - before
                runs_of.setdefault(kind, []).append(run.seconds)
                kept = best.get(kind)
                if kept is None or (run.exit_code == 0 and (kept[0].exit_code != 0 or run.seconds < kept[0].seconds)):
                    best[kind] = (run, calls)
                log(
                    f"  {dataset['id']:>22} {kind:>6}: {run.seconds:7.2f} s, {calls} calls "
                    f"({calls * emulator.latency_seconds:.2f} s of latency), {run.cpu_seconds:6.2f} s CPU, "
                    f"{run.peak_rss_bytes / 1e6:6.1f} MB peak RSS{' (deadline)' if run.timed_out else ''}"
                )
        self.clean()
        for kind, (run, calls) in best.items():
            concurrency = dict(WAN_CLIENTS)[kind] or default_concurrency(vendor)
            self.results.append(
                {
                    "dataset": dataset["id"],
                    "case": dataset["case"],
                    "size": dataset["size"],
                    "client": kind,
                    "facts": facts,
                    "wan": True,
                    "calls": calls,
                    "latency_seconds": emulator.latency_seconds,
                    "max_concurrent_requests": concurrency,
                    "seconds": run.seconds,
                    "all_seconds": runs_of[kind],
                    "cpu_seconds": run.cpu_seconds,
                    "peak_rss_bytes": run.peak_rss_bytes,
                    "exit_code": run.exit_code,
                    "timed_out": run.timed_out,
                    "extra": run.extra,
                    "check": self.check("tap", run, facts, 0),
                }
            )

    # ---- the frame-size curve, start-up, profile ------------------------------------------------

    def curve(self, emulator: Emulator, dataset: dict[str, t.Any]) -> None:
        facts = {**dataset, **emulator.facts[dataset["id"]]}
        for reader in ("vendor", "tap"):
            run = self.client_run(f"curve-{reader}", facts, emulator.url(dataset["id"]), RUN_DEADLINE)
            seconds = run.extra.get("frame_seconds") or [float("nan")]
            log(f"  {dataset['id']:>22} {reader:>6}: {min(seconds):7.3f} s per frame of {dataset['size'] / 1e6:.1f} MB")
            self.results.append(
                {
                    "dataset": dataset["id"],
                    "case": "curve",
                    "size": dataset["size"],
                    "client": reader,
                    "frame_seconds": min(seconds),
                    "frame_bytes": (run.extra.get("frame_bytes") or [dataset["size"]])[0],
                    "peak_rss_bytes": run.peak_rss_bytes,
                }
            )

    def startup(self, emulator: Emulator, dataset: dict[str, t.Any]) -> float:
        """Wall seconds of a tap run that syncs nothing: imports, config, catalog, exit."""
        argv = self.tap_argv(dataset, emulator.url(dataset["id"]))
        catalog = json.loads(Path(argv[-1]).read_text())
        for stream in catalog["streams"]:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = False
        empty = self.workdir / "catalog-empty.json"
        empty.write_text(json.dumps(catalog))
        argv[-1] = str(empty)
        return min(measure(argv).seconds for _ in range(3))

    def profile(self, emulator: Emulator, dataset: dict[str, t.Any]) -> dict[str, t.Any]:
        """Where the tap's time goes on small records: py-spy if it can run here, else cProfile."""
        argv = self.tap_argv(dataset, emulator.url(dataset["id"]))
        self.clean()
        raw = self.workdir / "profile.raw"
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if Path(py_spy).exists():
            done = subprocess.run(
                [py_spy, "record", "--rate", "250", "--format", "raw", "--output", str(raw), "--", *argv],
                stdout=subprocess.DEVNULL,
                stderr=(self.workdir / "profile.log").open("wb"),
                check=False,
            )
            if done.returncode == 0 and raw.exists():
                rows = prof.table(prof.summarize_raw(raw.read_text()))
                return {"tool": "py-spy (sampling, 250 Hz)", "rows": rows}
            log("  py-spy could not run here (see profile.log); using cProfile")
        stats = self.workdir / "profile.pstats"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "tap_hrdata", *argv[3:]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return {
            "tool": "cProfile (self time per function, deterministic: inflates call-heavy code)",
            "rows": prof.table(prof.summarize_pstats(str(stats))),
        }


def default_concurrency(vendor: str) -> int:
    """The tap's default ``max_concurrent_requests`` for a source (from its settings contract)."""
    from tap_hrdata.settings import SOURCE_SETTINGS

    return int(SOURCE_SETTINGS[vendor].to_dict()[vendor]["properties"]["max_concurrent_requests"]["default"])


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    import platform

    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    disk = shutil.disk_usage(tempfile.gettempdir())
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout.strip()
    except OSError:
        commit = "?"
    from importlib.metadata import version

    return {
        "CPU": f"{model} ({psutil.cpu_count(logical=True)} logical cores)",
        "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "disk": f"{disk.total / 1e9:.0f} GB, {disk.free / 1e9:.0f} GB free (temporary folder {tempfile.gettempdir()})",
        "system": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "singer-sdk": version("singer-sdk"),
        "tap-hrdata": f"{version('tap-hrdata')} (git {commit})",
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def run_cases(bench: Bench, plan: list[dict[str, t.Any]], extras: dict[str, t.Any]) -> None:
    """The loopback cases: every client of every data set, the curve, the start-up, the profile."""
    emulator = Emulator(plan, bench.workdir)
    try:
        for dataset in plan:
            if dataset["case"] != "curve":
                bench.dataset(emulator, dataset)
        for dataset in plan:
            if dataset["case"] == "curve":
                bench.curve(emulator, dataset)
        first = next(d for d in plan if d["case"] != "curve")
        extras["startup_seconds"] = bench.startup(emulator, first)
        log(f"  tap start-up (syncing nothing): {extras['startup_seconds']:.2f} s")
        vacancies = [d for d in plan if d["case"] == "vacancies"]
        if vacancies and not bench.args.no_profile:
            extras["profile"] = bench.profile(emulator, vacancies[-1])
            extras["profile"]["dataset"] = vacancies[-1]["id"]
    finally:
        emulator.stop()
        bench.clean()


def run_wan_cases(bench: Bench, plan: list[dict[str, t.Any]], extras: dict[str, t.Any]) -> None:
    """The WAN cases, on an emulator of their own that answers ``WAN_LATENCY`` late."""
    emulator = Emulator(plan, bench.workdir, latency_seconds=ds.WAN_LATENCY, name="wan-emulator")
    try:
        for dataset in plan:
            bench.wan_dataset(emulator, dataset)
        if "startup_seconds" not in extras:  # a WAN-only run: the report still tells the start-up apart
            extras["startup_seconds"] = bench.startup(emulator, plan[0])
            log(f"  tap start-up (syncing nothing): {extras['startup_seconds']:.2f} s")
    finally:
        emulator.stop()
        bench.clean()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write BENCHMARKS.md and the chart."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data sets (about a minute)")
    parser.add_argument(
        "--cases",
        default=",".join([*(c for c, _, _ in ds.CASES), ds.WAN]),
        help=f"comma-separated cases; {ds.WAN!r}: the WAN group (every answer {ds.WAN_LATENCY * 1000:g} ms late), "
        "or one of its cases (wan-youserve ...)",
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per client, the fastest kept (default 2; 1 with --quick)"
    )
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="the report (default BENCHMARKS.md)")
    parser.add_argument("--chart", default=str(ROOT / "benchmarks" / "chart.png"), help="the chart (PNG)")
    parser.add_argument("--json", default=None, help="also write the raw numbers here")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile of the tap on small records")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 2)
    cases = [c for c in args.cases.split(",") if c]
    if "partitions" in cases:  # the partitioned backfill: its own section of BENCHMARKS.md, nothing else rewritten
        from benchmarks import partitions

        cases.remove("partitions")
        partitions.main(Path(args.out))
        if not cases:
            return 0
    started = time.perf_counter()
    info = machine()
    everything = ds.plan(quick=args.quick, cases=cases)
    plan = [d for d in everything if not d.get("wan")]
    wan_plan = [d for d in everything if d.get("wan")]
    workdir = Path(tempfile.mkdtemp(prefix="tap-hrdata-bench-"))
    bench = Bench(args, workdir)
    extras: dict[str, t.Any] = {}
    if plan:
        log(f"work folder {workdir}; starting the emulator ({len(plan)} data sets)")
        run_cases(bench, plan, extras)
    if wan_plan:
        log(f"starting the WAN emulator ({len(wan_plan)} data sets, {ds.WAN_LATENCY * 1000:g} ms before each answer)")
        run_wan_cases(bench, wan_plan, extras)
    extras["elapsed_seconds"] = time.perf_counter() - started
    extras["command"] = "python -m benchmarks" + (" --quick" if args.quick else "")
    extras["repeat"] = args.repeat
    from benchmarks import report

    report.write(bench.results, info, extras, Path(args.out), Path(args.chart))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": bench.results, "machine": info, **extras}, indent=1))
    shutil.rmtree(workdir, ignore_errors=True)
    log(f"wrote {args.out} and {args.chart} in {extras['elapsed_seconds']:.0f} s")
    return 0
