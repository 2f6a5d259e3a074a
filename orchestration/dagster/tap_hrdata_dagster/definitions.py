"""The code location: ``dagster dev -m tap_hrdata_dagster.definitions``.

Loading it asks the tap for its partitions once (``meltano invoke tap-hrdata
--list-partitions`` in ``$TAP_HRDATA_MELTANO_PROJECT``, with this environment's
``TAP_HRDATA_*`` settings) to build one partitioned asset per source; the backfill and
daily jobs ask again when they run, so they follow the config without a reload.
"""

from __future__ import annotations

import dagster as dg

from tap_hrdata_dagster.jobs import (
    BACKFILL_JOBS,
    coresignal_ready_sensor,
    daily_incremental,
    daily_schedule,
    default_resources,
    partitioned_assets,
)
from tap_hrdata_dagster.project import Partition, list_partitions


def build_definitions(partitions: list[Partition]) -> dg.Definitions:
    """The code location for this partition list."""
    return dg.Definitions(
        assets=partitioned_assets(partitions),
        jobs=[*BACKFILL_JOBS, daily_incremental],
        schedules=[daily_schedule],
        sensors=[coresignal_ready_sensor],
        resources=default_resources(),
    )


defs = build_definitions(list_partitions())
