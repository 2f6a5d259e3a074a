"""The SDK's standard tap tests for the Coresignal source, run against the emulator."""

from __future__ import annotations

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_hrdata.tap import TapHrData
from tests.emulator.coresignal import CoresignalEmulator
from tests.emulator.server import Emulator

# The standard suite discovers streams when this module is imported, so the emulator
# must already be serving then; it lives as long as the test process.
CORESIGNAL = CoresignalEmulator(jobs=400, rate_limit=10_000, polls_until_ready=1)
EMULATOR = Emulator([CORESIGNAL]).start()

CORESIGNAL_CONFIG = {
    "coresignal": {
        "base_url": EMULATOR.url(CORESIGNAL.prefix),
        "api_token": CORESIGNAL.api_token,
        "filters": {"title": "engineer"},
        "poll_interval_seconds": 0.01,
    },
}

# max_records_limit=None: a record-limited run is an SDK dry run, and a dry run of this
# source never buys a data request (it only checks the token), so it would have no records.
TestTapHrDataCoresignal = get_tap_test_class(
    tap_class=TapHrData,
    config=CORESIGNAL_CONFIG,
    suite_config=SuiteConfig(max_records_limit=None),
)
