"""``python -m tests.faults.launch``: the tap's own CLI, checkpointing every N records.

The crash loop runs the tap through this in every other round, with
``TAP_HRDATA_TEST_STATE_EVERY=2``: a STATE every two records of every stream, instead of
the SDK's default (10000, 50 for candidates), so that kills land after mid-stream
checkpoints and the next run resumes from them, which is where a resume bug would lose or
repeat records. Nothing else differs from ``python -m tap_hrdata``.
"""

from __future__ import annotations

import os

from tap_hrdata.sources import all_sources
from tap_hrdata.tap import TapHrData

every = int(os.environ.get("TAP_HRDATA_TEST_STATE_EVERY") or 0)
if every:
    for source in all_sources():
        for stream_type in source.stream_types:
            stream_type.STATE_MSG_FREQUENCY = every

TapHrData.cli()
