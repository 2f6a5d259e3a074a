"""BENCHMARKS.md and the chart, from the numbers of a run."""

from __future__ import annotations

import math
import typing as t
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import datasets as ds

RSS_TARGET = 200e6
FILE_RATIO_TARGET = 0.8
CLIENT_ORDER = ("wire", "job", "vendor", "tap")
LABELS = {"wire": "wire floor", "job": "job floor", "vendor": "vendor sample", "tap": "**tap-hrdata**"}
COLORS = {"wire": "#7f7f7f", "job": "#1f77b4", "vendor": "#d62728", "tap": "#2ca02c"}
CHART_LABELS = {"wire": "wire floor", "job": "job floor", "vendor": "vendor sample", "tap": "tap-hrdata"}


def _records(row: dict[str, t.Any]) -> int:
    if row["client"] == "vendor" and row["check"] != "ok":
        return int(row["extra"].get("records", 0))
    return int(row["facts"]["records"])


def _bytes(row: dict[str, t.Any]) -> int:
    if row["client"] == "vendor" and row["check"] != "ok":
        return int(row["extra"].get("body_bytes", 0))
    return int(row["body_bytes"])


def mbps(row: dict[str, t.Any]) -> float:
    """Body MB (10^6 bytes) per second."""
    return _bytes(row) / 1e6 / row["seconds"]


def rps(row: dict[str, t.Any]) -> float:
    """Records per second."""
    return _records(row) / row["seconds"]


def export_label(row: dict[str, t.Any]) -> str:
    """What the export holds."""
    if row.get("wan"):
        return wan_label(row)
    facts, case, size_mb = row["facts"], row["case"], row["body_bytes"] / 1e6
    if case == "vacancies":
        return f"{facts['records']:,} vacancies ({size_mb:,.1f} MB)"
    if case == "candidates":
        return f"{facts['records']:,} candidates, {facts['attachments']} files ({size_mb:,.0f} MB)"
    if case == "youserve":
        return f"1 file of {size_mb:,.0f} MB"
    return f"{facts['records']:,} jobs ({size_mb:,.1f} MB gzip)"


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fit_curve(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares ``t = a·s² + b·s`` (s in MB): (a, b)."""
    sxx = sum(s**4 for s, _ in points)
    sxy = sum(s**3 for s, _ in points)
    syy = sum(s**2 for s, _ in points)
    bx = sum(s**2 * v for s, v in points)
    by = sum(s * v for s, v in points)
    det = sxx * syy - sxy * sxy
    if not det:
        return float("nan"), float("nan")
    return (bx * syy - by * sxy) / det, (sxx * by - sxy * bx) / det


def _by(results: list[dict[str, t.Any]], **match: t.Any) -> list[dict[str, t.Any]]:
    return [r for r in results if all(r.get(k) == v for k, v in match.items())]


def projected_seconds(results: list[dict[str, t.Any]], size: int, fit: tuple[float, float]) -> float | None:
    """The vendor sample's time on a candidates export, from the curve and the export's frames."""
    a, b = fit
    job = _by(results, case="candidates", client="job", size=size)
    frames = job[0].get("frame_bytes") if job else None
    if not frames or math.isnan(a):
        return None
    return sum(a * (f / 1e6) ** 2 + b * (f / 1e6) for f in frames)


def main_table(results: list[dict[str, t.Any]], fit: tuple[float, float]) -> list[str]:
    lines = [
        "| Case | Export | Client | Time (s) | Records/s | MB/s | Peak RSS (MB) | CPU (s) | tap ÷ this (MB/s) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, label, _ in ds.CASES:
        sizes = sorted({r["size"] for r in _by(results, case=case)})
        for size in sizes:
            rows = {r["client"]: r for r in _by(results, case=case, size=size)}
            tap = rows.get("tap")
            for client in CLIENT_ORDER:
                row = rows.get(client)
                if case == "candidates" and client == "vendor" and tap is not None:
                    lines.append(projected_row(label, tap, row, projected_seconds(results, size, fit)))
                    continue
                if row is None:
                    continue
                ratio = ""
                if tap is not None and client != "tap" and tap["check"] == "ok":
                    value = mbps(tap) / mbps(row) if mbps(row) else float("nan")
                    ratio = f"{value:.2f}" if row["check"] == "ok" else f"≥ {value:.0f}"
                time_text = _fmt(row["seconds"])
                if row["check"] != "ok":
                    time_text += f" ({row['check']})"
                lines.append(
                    f"| {label} | {export_label(row)} | {LABELS[client]} | {time_text} | {_fmt(rps(row))} | "
                    f"{_fmt(mbps(row))} | {row['peak_rss_bytes'] / 1e6:.0f} | {row['cpu_seconds']:.2f} | {ratio} |"
                )
    return lines


def projected_row(label: str, tap: dict[str, t.Any], row: dict[str, t.Any] | None, seconds: float | None) -> str:
    """The vendor sample's row of an attachments export: its time projected from the curve."""
    if seconds is None:
        return f"| {label} | {export_label(tap)} | {LABELS['vendor']} | not run | | | | | |"
    seen = "not run"
    rss = cpu = ""
    if row is not None:
        seen = f"stopped at {row['seconds']:.0f} s after {row['extra'].get('records', 0)} of {tap['facts']['records']}"
        rss, cpu = f"{row['peak_rss_bytes'] / 1e6:.0f} (so far)", f"{row['cpu_seconds']:.2f}"
    records_rate = tap["facts"]["records"] / seconds
    rate = tap["body_bytes"] / 1e6 / seconds
    return (
        f"| {label} | {export_label(tap)} | {LABELS['vendor']} | ≈ {_fmt(seconds)} projected ({seen}) | "
        f"≈ {_fmt(records_rate)} | ≈ {_fmt(rate)} | {rss} | {cpu} | ≈ {mbps(tap) / rate:,.0f} |"
    )


def targets(results: list[dict[str, t.Any]], extras: dict[str, t.Any]) -> list[str]:
    lines = []
    # 1. memory
    taps = [r for r in results if r["client"] == "tap" and r["case"] != "curve" and not r.get("wan")]
    worst = max(taps, key=lambda r: r["peak_rss_bytes"]) if taps else None
    if worst is not None:
        verdict = "holds" if worst["peak_rss_bytes"] < RSS_TARGET else "MISSED"
        lines.append(
            f"- **Peak RSS of the tap under 200 MB in every case: {verdict}.** Highest: "
            f"{worst['peak_rss_bytes'] / 1e6:.0f} MB ({export_label(worst)})."
        )
        growth = []
        for case, label, _ in ds.CASES:
            rows = sorted(_by(taps, case=case), key=lambda r: r["size"])
            if len(rows) == 2:
                small, large = rows
                growth.append(
                    f"{label}: {small['peak_rss_bytes'] / 1e6:.0f} MB → {large['peak_rss_bytes'] / 1e6:.0f} MB "
                    f"for {large['body_bytes'] / small['body_bytes']:.1f}x the data"
                )
        if growth:
            lines.append("  Two sizes: " + "; ".join(growth) + ".")
    # 2. files vs the job floor
    for case in ("candidates", "youserve"):
        for size in sorted({r["size"] for r in _by(results, case=case)}):
            rows = {r["client"]: r for r in _by(results, case=case, size=size)}
            if "tap" in rows and "job" in rows:
                ratio = mbps(rows["tap"]) / mbps(rows["job"])
                verdict = "holds" if ratio >= FILE_RATIO_TARGET else f"MISSED by {FILE_RATIO_TARGET - ratio:.2f}"
                startup = extras.get("startup_seconds", 0.0)
                without = _bytes(rows["tap"]) / 1e6 / max(rows["tap"]["seconds"] - startup, 1e-9)
                lines.append(
                    f"- **Tap MB/s ≥ 0.8 x job floor, {export_label(rows['tap'])}: {verdict}** "
                    f"({ratio:.2f}: {mbps(rows['tap']):.0f} vs {mbps(rows['job']):.0f} MB/s; "
                    f"{without / mbps(rows['job']):.2f} without the tap's {startup:.1f} s start-up)."
                )
    return lines


# ---- WAN: every answer late by the emulator's latency ---------------------------------------------

WAN_LABELS = {"tap": "**tap-hrdata**", "tap-1": "tap-hrdata, `max_concurrent_requests: 1`"}


def wan_label(row: dict[str, t.Any]) -> str:
    """What a WAN data set holds."""
    case, size = row["case"], row["size"]
    pages = math.ceil(size / 100)
    if case == "wan-youserve":
        return f"{size:,} files of {ds.WAN_FILE_BYTES / 1000:.0f} kB"
    if case == "wan-hrflow":
        return f"{size:,} profiles ({pages} pages of {ds.HRFLOW_PAGE_SIZE})"
    if case == "wan-coresignal":
        return f"{size:,} jobs in {row['facts'].get('files', ds.CORESIGNAL_WAN_FILES)} files"
    return f"{size:,} vacancies ({pages} pages of {ds.PAGE_SIZE})"


def sequential_floor(row: dict[str, t.Any]) -> float:
    """Calls x latency: what waiting for each answer before the next request costs at least."""
    return float(row["calls"] * row["latency_seconds"])


def latency_floor(row: dict[str, t.Any]) -> float:
    """Calls x latency / max_concurrent_requests: the least any client with that many in flight waits."""
    return sequential_floor(row) / row["max_concurrent_requests"]


def _share(seconds: float, floor: float) -> str:
    return f"{seconds / floor:.2f}" if floor > 0 else "n/a"


def wan_rows(results: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The WAN rows in report order: case, size, then the concurrent tap before the sequential one."""
    order = {case: index for index, (case, _, _) in enumerate(ds.WAN_CASES)}
    clients = {"tap": 0, "tap-1": 1}
    rows = [r for r in results if r.get("wan")]
    return sorted(rows, key=lambda r: (order.get(r["case"], 99), r["size"], clients.get(r["client"], 9)))


def wan_table(results: list[dict[str, t.Any]]) -> list[str]:
    rows = wan_rows(results)
    if not rows:
        return []
    labels = {case: label for case, label, _ in ds.WAN_CASES}
    lines = [
        "| Case | Data set | Client | In flight | Calls | Time (s) | Sequential floor (s) | Latency floor (s) "
        "| Time ÷ sequential floor | Time ÷ latency floor | Records/s | Peak RSS (MB) | CPU (s) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        time_text = _fmt(row["seconds"])
        if row["check"] != "ok":
            time_text += f" ({row['check']})"
        sequential, floor = sequential_floor(row), latency_floor(row)
        client = WAN_LABELS.get(row["client"], row["client"])
        lines.append(
            f"| {labels.get(row['case'], row['case'])} | {wan_label(row)} | {client} "
            f"| {row['max_concurrent_requests']} | {row['calls']:,} | {time_text} | {_fmt(sequential)} | {_fmt(floor)} "
            f"| {_share(row['seconds'], sequential)} | {_share(row['seconds'], floor)} | {_fmt(rps(row))} "
            f"| {row['peak_rss_bytes'] / 1e6:.0f} | {row['cpu_seconds']:.2f} |"
        )
    return lines


def wan_targets(results: list[dict[str, t.Any]], extras: dict[str, t.Any]) -> list[str]:
    """Wall time at most 0.3 x the sequential floor (YouServe, HrFlow); RSS under 200 MB and flat."""
    rows = wan_rows(results)
    if not rows:
        return []
    lines = []
    startup = extras.get("startup_seconds")
    target = ds.WAN_RATIO_TARGET
    for row in rows:
        if row["client"] != "tap" or row["size"] < ds.WAN_TARGET_SIZES.get(row["case"], math.inf):
            continue
        if not sequential_floor(row):
            lines.append(f"- **WAN, {wan_label(row)}: MISSED** (the run made no call: {row['check']}).")
            continue
        ratio = row["seconds"] / sequential_floor(row)
        verdict = "holds" if ratio <= target and row["check"] == "ok" else "MISSED"
        if row["check"] != "ok":
            verdict += f" ({row['check']})"
        sequential = next(
            (
                r
                for r in rows
                if r["dataset"] == row["dataset"] and r["client"] == "tap-1" and r["check"] == "ok" and r["calls"]
            ),
            None,
        )
        side = ""
        if sequential is not None:
            side = (
                f"; with `max_concurrent_requests: 1` {sequential['seconds']:.1f} s, "
                f"{sequential['seconds'] / sequential_floor(sequential):.2f} of its floor: "
                f"{sequential['seconds'] / row['seconds']:.1f}x slower"
            )
        without = ""
        cpu_share = row["cpu_seconds"] / sequential_floor(row)
        if cpu_share > target:
            without = (
                f"; the tap's CPU time, {row['cpu_seconds']:.2f} s (mostly under one GIL), is already "
                f"{cpu_share:.2f} of the floor: on this machine the tap's own work, not the round trips, bounds it"
            )
        if startup:
            net = (row["seconds"] - startup) / sequential_floor(row)
            without += f"; {net:.2f} without the tap's {startup:.1f} s start-up"
        lines.append(
            f"- **WAN at {row['latency_seconds'] * 1000:g} ms, {wan_label(row)}: time ≤ {target} x sequential floor: "
            f"{verdict}** ({ratio:.2f}: {row['seconds']:.2f} s for {row['calls']:,} calls, "
            f"sequential floor {sequential_floor(row):.2f} s, latency floor {latency_floor(row):.2f} s at "
            f"{row['max_concurrent_requests']} in flight{without}{side})."
        )
    taps = [r for r in rows if r["client"] == "tap"]
    if taps:
        worst = max(taps, key=lambda r: r["peak_rss_bytes"])
        verdict = "holds" if worst["peak_rss_bytes"] < RSS_TARGET else "MISSED"
        growth = []
        for case, label, _ in ds.WAN_CASES:
            sized = sorted((r for r in taps if r["case"] == case), key=lambda r: r["size"])
            if len(sized) >= 2:
                small, large = sized[0], sized[-1]
                growth.append(
                    f"{label}: {small['peak_rss_bytes'] / 1e6:.0f} MB → {large['peak_rss_bytes'] / 1e6:.0f} MB "
                    f"for {large['size'] / small['size']:.1f}x the data"
                )
        lines.append(
            f"- **WAN: peak RSS of the concurrent tap under 200 MB: {verdict}.** Highest: "
            f"{worst['peak_rss_bytes'] / 1e6:.0f} MB ({wan_label(worst)})."
            + (" Two sizes: " + "; ".join(growth) + "." if growth else "")
        )
    return lines


def wan_section(results: list[dict[str, t.Any]], extras: dict[str, t.Any]) -> list[str]:
    """The WAN section of the report: the table and what its columns mean."""
    table = wan_table(results)
    if not table:
        return []
    latency = wan_rows(results)[0]["latency_seconds"]
    return [
        f"## WAN: every answer {latency * 1000:g} ms late",
        "",
        f"The same kind of data sets, served by a second emulator process that sleeps {latency * 1000:g} ms before "
        "each answer (in the request's own thread, so answers overlap as over a real network; no bandwidth "
        "cap). On loopback an answer is instant; from a European data centre a vendor is 20 to 100 ms away, "
        "plus its own time per call, so the round trips are what a real run waits for. The tap runs at its "
        "default `max_concurrent_requests` (8 for YouServe, HrFlow and Coresignal, 2 for Talentsoft: the "
        "page being read and the next one) and, beside it, with `max_concurrent_requests: 1`: one request "
        "at a time, as before concurrency.",
        "",
        *table,
        "",
        "*Calls* are the requests the emulator answered during the run (its own count: token, listings, "
        "pages, files, polls, and any retry). *Sequential floor* = calls x latency: the least a client "
        "waiting for each answer before the next request can take. *Latency floor* = calls x latency / "
        "*in flight* (`max_concurrent_requests`): the least any client with that many requests in flight can "
        "take. Time is the wall time of the whole tap process, its start-up "
        f"({extras.get('startup_seconds', 0):.1f} s on loopback) included, so a small data set cannot reach its "
        "latency floor. Coresignal is also held to its rate limit (27 requests/s, shared by every worker), so "
        "calls / 27 s bounds it too; the emulator enforces that limit and answers 429 above it. The concurrent "
        f"tap is the best of {extras['repeat']} run{'s' if extras['repeat'] > 1 else ''}; the sequential "
        "one runs once (its time is its calls' latency).",
        "",
    ]


def curve_lines(results: list[dict[str, t.Any]]) -> tuple[list[str], tuple[float, float]]:
    vendor = sorted(_by(results, case="curve", client="vendor"), key=lambda r: r["size"])
    tap = {r["size"]: r for r in _by(results, case="curve", client="tap")}
    if not vendor:
        return [], (float("nan"), float("nan"))
    points = [(r["frame_bytes"] / 1e6, r["frame_seconds"]) for r in vendor]
    a, b = fit_curve(points)
    lines = [
        "| Frame | vendor sample: s per frame | vendor MB/s | tap-hrdata reader: s per frame | tap MB/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in vendor:
        size_mb = row["frame_bytes"] / 1e6
        other = tap.get(row["size"])
        tap_s = other["frame_seconds"] if other else float("nan")
        lines.append(
            f"| {size_mb:.1f} MB | {row['frame_seconds']:.3f} | {size_mb / row['frame_seconds']:.0f} | "
            f"{tap_s:.4f} | {size_mb / tap_s:.0f} |"
        )
    lines.append("")
    sign = "-" if b < 0 else "+"
    lines.append("The tap's reader is linear: what it waits for on large frames is the emulator building them.")
    lines.append(
        f"Least squares fit of the vendor sample: t ≈ {a:.4f}·s² {sign} {abs(b):.4f}·s seconds for a frame of s MB: "
        f"the s² term is the quadratic re-slicing (`self._buffer += ...; self._buffer = self._buffer[size:]` "
        f"over 4 KiB chunks copies the growing buffer once per chunk)."
    )
    return lines, (a, b)


def projection(results: list[dict[str, t.Any]], fit: tuple[float, float]) -> list[str]:
    lines = []
    for row in _by(results, case="candidates", client="job"):
        frames = row.get("frame_bytes") or []
        total = projected_seconds(results, row["size"], fit)
        if total is None:
            continue
        measured = _by(results, case="candidates", client="vendor", size=row["size"])
        seen = ""
        if measured:
            m = measured[0]
            seen = (
                f" (measured: {m['extra'].get('records', 0)} of {row['facts']['records']} candidates in "
                f"{m['seconds']:.0f} s before its deadline)"
            )
        tap = _by(results, case="candidates", client="tap", size=row["size"])
        lines.append(
            f"- {export_label(row)}: largest frame {max(frames) / 1e6:.0f} MB; the vendor sample would take about "
            f"{total / 60:,.0f} minutes{seen}" + (f", the tap {tap[0]['seconds']:.1f} s." if tap else ".")
        )
    return lines


def profile_lines(extras: dict[str, t.Any]) -> list[str]:
    profile = extras.get("profile")
    if not profile:
        return ["(not run)"]
    lines = [
        f"The tap on `{profile['dataset']}`, profiled with {profile['tool']}; each sample is charged to the "
        "component of the frame nearest the leaf that belongs to a known component.",
        "",
        "| Share of the run | Where |",
        "|---:|---|",
    ]
    lines += [f"| {share:.1%} | {label} |" for label, share in profile["rows"]]
    groups = {
        "the tap's own code and what it calls (framing, zipfile, JSON decode, records)": (
            "tap-hrdata",
            "zipfile",
            "JSON",
        ),
        "the SDK's record pipeline (selection, conformance, state and metrics, msgspec writer)": ("SDK",),
        "the HTTP client": ("HTTP",),
        "start-up": ("start-up",),
    }
    shares = {
        name: sum(share for label, share in profile["rows"] if label.startswith(prefixes))
        for name, prefixes in groups.items()
    }
    lines += ["", "In all: " + "; ".join(f"{name} {share:.0%}" for name, share in shares.items()) + "."]
    return lines


def _plot_case(
    results: list[dict[str, t.Any]], case: str, *, label: str, unit: str, axes: t.Any, fit: tuple[float, float]
) -> None:
    """One case: throughput (top) and peak RSS (bottom) against export size, one line per client."""
    top, bottom = axes
    per_record = case in {"vacancies", "coresignal"}
    for client in CLIENT_ORDER:
        rows = sorted(_by(results, case=case, client=client), key=lambda r: r["body_bytes"])
        if case == "candidates" and client == "vendor":
            taps = sorted(_by(results, case=case, client="tap"), key=lambda r: r["body_bytes"])
            points = [(r["body_bytes"] / 1e6, projected_seconds(results, r["size"], fit)) for r in taps]
            points = [(x, x / p) for x, p in points if p]
            if points:
                xs, ys = zip(*points, strict=True)
                top.plot(xs, ys, "--", marker="o", color=COLORS[client], label="vendor sample (projected)")
            rows = [r for r in rows if r["extra"].get("records")]  # its RSS only once it held a frame
            xs = [r["body_bytes"] / 1e6 for r in rows]
            bottom.plot(xs, [r["peak_rss_bytes"] / 1e6 for r in rows], "o", color=COLORS[client])
            continue
        if not rows:
            continue
        xs = [r["body_bytes"] / 1e6 for r in rows]
        ys = [rps(r) if per_record else mbps(r) for r in rows]
        style = "--" if any(r["check"] != "ok" for r in rows) else "-"
        top.plot(xs, ys, style, marker="o", color=COLORS[client], label=CHART_LABELS[client])
        bottom.plot(xs, [r["peak_rss_bytes"] / 1e6 for r in rows], style, marker="o", color=COLORS[client])
    if case == "candidates":
        top.legend(fontsize=7)  # the projected vendor line is only here
    top.set_title(label, fontsize=10)
    top.set_ylabel(f"{unit} per second" if per_record else "MB/s")
    top.set_yscale("log")
    top.grid(True, which="both", alpha=0.3)
    bottom.axhline(RSS_TARGET / 1e6, color="black", linewidth=0.8, linestyle=":", label="200 MB target")
    bottom.set_ylabel("peak RSS (MB)")
    bottom.set_xlabel("export size (MB on the wire)")
    bottom.set_ylim(0, max(260, *(r["peak_rss_bytes"] / 1e6 * 1.1 for r in _by(results, case=case))))
    bottom.grid(True, alpha=0.3)


def _plot_curve(results: list[dict[str, t.Any]], axes: t.Any, fit: tuple[float, float]) -> None:
    """Seconds (top) and MB/s (bottom) of reading one frame, against its size: the quadratic sample."""
    top, bottom = axes
    for client, label in (("vendor", "vendor sample reader"), ("tap", "tap-hrdata reader")):
        rows = sorted(_by(results, case="curve", client=client), key=lambda r: r["size"])
        xs = [r["frame_bytes"] / 1e6 for r in rows]
        top.plot(xs, [r["frame_seconds"] for r in rows], "o", color=COLORS[client], label=label)
        rates = [x / r["frame_seconds"] for x, r in zip(xs, rows, strict=True)]
        bottom.plot(xs, rates, "o-", color=COLORS[client], label=label)
    a, b = fit
    if not math.isnan(a):
        top_x = max(r["frame_bytes"] for r in _by(results, case="curve")) / 1e6
        grid = [top_x * i / 50 for i in range(51)]
        fitted = [a * x * x + b * x for x in grid]
        top.plot(
            grid,
            fitted,
            color=COLORS["vendor"],
            linewidth=0.8,
            label=f"{a:.4f}·s² {'-' if b < 0 else '+'} {abs(b):.4f}·s",
        )
    top.set_title("Reading one frame of s MB", fontsize=10)
    top.set_ylabel("seconds per frame")
    top.legend(fontsize=8)
    top.grid(True, alpha=0.3)
    bottom.set_yscale("log")
    bottom.set_ylabel("MB/s while reading the frame")
    bottom.set_xlabel("frame size (MB)")
    bottom.grid(True, which="both", alpha=0.3)
    bottom.legend(fontsize=8)


def _plot_wan(results: list[dict[str, t.Any]], axes: t.Any) -> None:
    """WAN: time ÷ sequential floor (top) and peak RSS (bottom) per data set, concurrent and sequential tap."""
    top, bottom = axes
    rows = [r for r in wan_rows(results) if r["calls"]]
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    short = {"wan-youserve": "YouServe", "wan-hrflow": "HrFlow", "wan-coresignal": "Coresignal"}
    ticks = []
    for name in names:
        first = next(r for r in rows if r["dataset"] == name)
        ticks.append(f"{short.get(first['case'], 'Talentsoft')}\n{first['size']:,}")
    width = 0.4
    for shift, (client, label, color) in enumerate(
        (("tap", "tap-hrdata (default in flight)", COLORS["tap"]), ("tap-1", "max_concurrent_requests: 1", "#ff7f0e"))
    ):
        by_name = {r["dataset"]: r for r in rows if r["client"] == client}
        xs = [i + (shift - 0.5) * width for i, name in enumerate(names) if name in by_name]
        chosen = [by_name[name] for name in names if name in by_name]
        top.bar(xs, [r["seconds"] / sequential_floor(r) for r in chosen], width, color=color, label=label)
        bottom.bar(xs, [r["peak_rss_bytes"] / 1e6 for r in chosen], width, color=color)
    top.axhline(1.0, color="black", linewidth=0.8, label="sequential floor (calls x latency)")
    top.axhline(
        ds.WAN_RATIO_TARGET, color="black", linewidth=0.8, linestyle="--", label=f"{ds.WAN_RATIO_TARGET} target"
    )
    latency = rows[0]["latency_seconds"] * 1000 if rows else ds.WAN_LATENCY * 1000
    top.set_title(f"WAN: every answer {latency:g} ms late", fontsize=10)
    top.set_ylabel("time ÷ sequential floor")
    top.legend(fontsize=7)
    top.grid(True, axis="y", alpha=0.3)
    bottom.axhline(RSS_TARGET / 1e6, color="black", linewidth=0.8, linestyle=":")
    bottom.set_ylabel("peak RSS (MB)")
    bottom.set_ylim(0, max(260, *(r["peak_rss_bytes"] / 1e6 * 1.1 for r in rows)))
    bottom.grid(True, axis="y", alpha=0.3)
    for axis in (top, bottom):
        axis.set_xticks(range(len(names)), ticks, fontsize=7)


def chart(results: list[dict[str, t.Any]], path: Path, fit: tuple[float, float]) -> None:
    """The PNG: one column per case, and one for the frame-size curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in ds.CASES if _by(results, case=c[0])]
    has_curve = bool(_by(results, case="curve"))
    has_wan = bool(wan_rows(results))
    columns = len(cases) + (1 if has_curve else 0) + (1 if has_wan else 0)
    if not columns:
        return
    ratios = [1.0] * (columns - 1) + [1.8 if has_wan else 1.0]  # the WAN column holds every data set
    fig, axes = plt.subplots(
        2, columns, figsize=(4.2 * sum(ratios), 7.6), squeeze=False, gridspec_kw={"width_ratios": ratios}
    )
    for col, (case, label, unit) in enumerate(cases):
        _plot_case(results, case, label=label, unit=unit, axes=(axes[0][col], axes[1][col]), fit=fit)
    if cases:
        axes[0][0].legend(fontsize=8)
        axes[1][0].legend(fontsize=8)
    if has_curve:
        col = len(cases)
        _plot_curve(results, (axes[0][col], axes[1][col]), fit)
    if has_wan:
        _plot_wan(results, (axes[0][-1], axes[1][-1]))
    title = "tap-hrdata against its floors and the vendor sample (top: throughput, bottom: peak RSS)"
    if has_wan:
        title += f"; right: WAN, every answer {ds.WAN_LATENCY * 1000:g} ms late"
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(
    results: list[dict[str, t.Any]], machine: dict[str, str], extras: dict[str, t.Any], out: Path, chart_path: Path
) -> None:
    """Write the report and the chart."""
    curve, fit = curve_lines(results)
    chart(results, chart_path, fit)
    try:
        chart_ref = chart_path.resolve().relative_to(out.resolve().parent).as_posix()
    except ValueError:
        chart_ref = chart_path.as_posix()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = [
        "# Benchmarks",
        "",
        f"Measured by `{extras['command']}` on {now}, in {extras['elapsed_seconds']:.0f} s "
        f"(best of {extras['repeat']} run{'s' if extras['repeat'] > 1 else ''} per client). "
        "Regenerate with `bash scripts/bench.sh` (one command from a clean clone, install included: "
        "about 9 minutes, the WAN cases included; `--quick` for a two-minute run on smaller exports), or "
        "`python -m benchmarks` in a venv with the `bench` extra (`--cases wan` for the WAN cases alone).",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        "",
        f"![throughput and peak RSS against export size]({chart_ref})",
        "",
        "## Results",
        "",
        *main_table(results, fit),
        "",
        "MB = 10^6 bytes of HTTP bodies as received (chunked framing removed; Coresignal's are gzip, "
        "the other bodies are not compressed). Records are the export's records: vacancies, candidates "
        "(each with 1 to 3 attachments of 1 to 20 MB, stored zip entries), files, jobs. Time is the "
        "wall time of the client's whole process, start-up included; "
        f"the tap's own start-up (imports, config, catalog, no sync) is {extras.get('startup_seconds', 0):.2f} s. "
        "Peak RSS is the high-water RSS of that process (getrusage). *tap ÷ this* is the tap's MB/s "
        "divided by that client's, so it is the tap/job floor, tap/wire floor and tap/vendor sample "
        "ratio of the issue; the records/s ratio is the same number.",
        "",
        *wan_section(results, extras),
        "## Targets",
        "",
        *targets(results, extras),
        *wan_targets(results, extras),
        "",
        "## The vendor sample is quadratic on large frames",
        "",
        *curve,
        "",
        *projection(results, fit),
        "",
        "## Where the time goes on small records",
        "",
        *profile_lines(extras),
        "",
        "## What the tap does for these numbers",
        "",
        "- A frame is read once into a buffer that is reused for the next frame as soon as nothing "
        "holds it (`tap_hrdata/framing.py`), and the previous frame is let go before the next one is "
        "read, so the tap holds one frame, not two or three: its peak RSS is its start-up footprint "
        "plus the largest frame, whatever the size of the export.",
        "- The frame's zip is read in place (`FrameArchive`): zipfile parses the central directory, "
        "and stored or deflated entries are read from the frame's buffer, CRC-32 and size checked, "
        "without copying the frame (`io.BytesIO` copied it) or a stored attachment; attachments go to "
        "storage in 1 MiB pieces, each checked, hashed and written while it is in the CPU cache.",
        "- The JSON document is decoded by msgspec (json.loads for what msgspec refuses), and the "
        "Talentsoft streams memoize the SDK's selection mask, whose inherited answers the SDK "
        "recomputed for every nested property of every record.",
        "- Singer messages are written by the SDK's msgspec writer.",
        "",
        "## What is measured",
        "",
        "- **Emulator**: `tests/emulator`, one process of its own for the whole run (so it never takes a "
        "client's GIL), every data set mounted under its own prefix, chunked bodies in 1 MiB pieces "
        "(`Emulator(piece_bytes=...)`; the tests keep their irregular 1 byte..64 KiB pieces). Vacancy "
        "frames are built once when it starts and served from memory, otherwise building zips would be "
        "what the vacancies' wire floor measures.",
        "- **wire floor** (`benchmarks/clients.py wire`): the same requests as the job, each body read from "
        "the socket into one reused buffer and dropped; only the HTTP framing is parsed.",
        "- **job floor** (`clients.py job`): the least the job needs, by hand: frames read from the socket "
        "straight into one reused buffer, zip members found from the central directory and their CRC-32 "
        "checked, the JSON document decoded (msgspec), attachments and files hashed (sha256) and written "
        "to the same folder the tap writes to (temporary name, then rename), each record encoded as a "
        "JSON line to /dev/null.",
        "- **vendor sample** (`clients.py vendor`): the `StreamingReader` of "
        "`shared/api-docs/talentsoft-exports-stream-examples.txt` (requests, `iter_content(4096)`), "
        "`ZipFile(io.BytesIO(...))` and `json.loads` with its namedtuple hook, printing nothing; "
        "Talentsoft only. On the large attachments export it is not run (it would take longer than the whole run): its "
        "time there is projected from the curve above. On the small one it is stopped at a deadline.",
        "- **tap-hrdata**: `python -m tap_hrdata --config ... --catalog ...` with only the case's streams "
        "selected (candidates with applications and attachments), Singer messages (msgspec writer) to "
        "/dev/null, files to the temporary folder. Its record counts and stored bytes are checked "
        "against the data set from its summary log lines.",
        "- Writes land in the page cache: neither the tap nor the job floor waits for the disk, and the "
        "run syncs and deletes the files (untimed) after every client. So on this machine the job floor "
        "is bound by one core doing CRC-32, sha256 and the copy into the page cache (about 40% of the "
        "wire floor), not by the disk (about 350 MB/s with fsync, measured with dd).",
        "- **WAN** (`--cases wan`): a second emulator process (`python -m benchmarks.serve PLAN "
        f"--latency-seconds {ds.WAN_LATENCY:g}`, the emulator's `latency_seconds`) sleeps before each answer in the "
        "request's own thread; the calls are its own count (`GET /_emulator/requests`). HrFlow's pages are "
        "built once, in an untimed warm-up run, and served from memory (building a page costs the emulator "
        "about 50 ms at 12,000 profiles, which the case would otherwise measure). "
        "`python -m tests.emulator --latency-seconds 0.05` serves the demo data set the same way.",
        "- Other work on the machine can only slow a run down, so each client runs "
        f"{extras['repeat']} time{'s' if extras['repeat'] > 1 else ''}, interleaved with the others, "
        "and its fastest run is kept (the vendor sample runs once).",
        "",
    ]
    out.write_text("\n".join(text))
