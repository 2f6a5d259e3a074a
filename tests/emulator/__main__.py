"""Serve every vendor API on 127.0.0.1: ``python -m tests.emulator --port 8080``.

Mounts Talentsoft at /ts, HrFlow at /hrflow, YouServe at /youserve (with Visma Connect at
/visma-connect and the Youforce File API at /youforce) and Coresignal at /coresignal, with
the demo data set, and prints a tap config pointing at them (the ``demo`` environment of
meltano.yml uses the same URLs and credentials). The demo speaks each vendor as it answers
today: Talentsoft's real export shapes, HrFlow's Storing API, Visma Connect sign-in,
Coresignal's v2 API; the seed docs' generation stays in the source tests.

``--latency-seconds 0.05`` answers every request 50 ms late (a distant vendor), and
``--bytes-per-second`` caps each connection's bandwidth: a wide-area link on loopback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.emulator.youserve import YouserveEmulator


def demo_vendors(
    polls_until_ready: int = 1,
) -> tuple[TalentsoftEmulator, HrflowEmulator, YouserveEmulator, CoresignalEmulator]:
    """The demo data set: small enough to load in seconds, varied enough to show every stream."""
    return (
        TalentsoftEmulator(vacancies=40, candidates=25, attachments_per_candidate=(1, 3), shape="current"),
        HrflowEmulator(shape="current", unindexed_profiles=1),
        YouserveEmulator(),
        CoresignalEmulator(jobs=2000, polls_until_ready=polls_until_ready),
    )


def hosts(vendors: tuple) -> list:
    """Every host the vendors serve from (YouServe: its own, Visma Connect's, Youforce's)."""
    return [host for vendor in vendors for host in (vendor.hosts() if hasattr(vendor, "hosts") else (vendor,))]


def tap_config(emulator: Emulator, vendors: tuple, files_storage_url: str = "output/files") -> dict:
    """A tap config with every source pointing at ``emulator``, in each vendor's current generation."""
    talentsoft, hrflow, youserve, coresignal = vendors
    config: dict = {
        "files_storage_url": files_storage_url,
        "talentsoft": talentsoft.tap_settings(emulator.url(talentsoft.prefix)),
        "hrflow": hrflow.tap_settings(emulator.url(hrflow.prefix)),  # the Storing API: the default listing
        "youserve": youserve.youforce.tap_settings(emulator.url(youserve.youforce.prefix)),  # Visma Connect
        "coresignal": coresignal.tap_settings(emulator.url(coresignal.prefix)),
    }
    config["talentsoft"]["referential_categories"] = ["countries", "languages"]
    config["youserve"]["business_types"] = [7101, 8000, 101100]
    config["coresignal"].pop("api_token")
    config["coresignal"]["api_key"] = coresignal.api_key  # the v2 API
    config["coresignal"]["poll_interval_seconds"] = 1
    return config


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    parser.add_argument("--print-config", action="store_true", help="print a tap config for this emulator")
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=0.0,
        help="seconds of delay before each answer, e.g. 0.05 for a 50 ms round trip (default 0)",
    )
    parser.add_argument(
        "--bytes-per-second", type=float, default=None, help="bandwidth cap of each connection (default: none)"
    )
    args = parser.parse_args(argv)
    if args.latency_seconds < 0 or (args.bytes_per_second is not None and args.bytes_per_second <= 0):
        parser.error("--latency-seconds must be 0 or more and --bytes-per-second positive")
    vendors = demo_vendors()
    emulator = Emulator(
        hosts(vendors), port=args.port, latency_seconds=args.latency_seconds, bytes_per_second=args.bytes_per_second
    )
    if args.print_config:
        print(json.dumps(tap_config(emulator, vendors), indent=2), flush=True)
    link = f", {args.latency_seconds * 1000:g} ms before each answer" if args.latency_seconds else ""
    if args.bytes_per_second:
        link += f", {args.bytes_per_second:g} bytes/s per connection"
    print(f"emulator serving on {emulator.url()}{link} (Ctrl-C to stop)", file=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
