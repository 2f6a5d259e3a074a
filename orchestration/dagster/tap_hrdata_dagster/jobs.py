"""Ops, jobs, partitioned assets, the schedule and the sensor.

Every run of the tap is ``meltano run [--state-id-suffix NAME] tap-hrdata LOADER`` in the
Meltano project, started through Dagster Pipes' :class:`~dagster.PipesSubprocessClient`
(its output goes to the run's logs; a non-zero exit fails the step). The jobs here list
their partitions when they run (an op asks the tap), so importing this module asks
nothing: Dagster's multiprocess steps import it cheaply.
"""

import os
from pathlib import Path
from typing import Any

import dagster as dg

from tap_hrdata.storage import FileStorage
from tap_hrdata_dagster.project import (
    LOADER_ENV,
    SOURCES,
    Partition,
    default_project_dir,
    incremental_partitions,
    list_partitions,
    run_command,
    run_env,
)

#: How many partitions run at once in one Dagster run on one machine (the multiprocess executor's
#: ``max_concurrent``; override with ``execution: {config: {multiprocess: {max_concurrent: N}}}``).
MAX_CONCURRENT = 4


class MeltanoProject(dg.ConfigurableResource):
    """The Meltano project every run uses, and the loader it writes to.

    Unset, both come from the environment when the run starts: ``$TAP_HRDATA_MELTANO_PROJECT``
    and ``$TAP_HRDATA_DAGSTER_LOADER``.
    """

    project_dir: str | None = None
    loader: str | None = None

    def directory(self) -> Path:
        """The project's directory."""
        return Path(self.project_dir) if self.project_dir else default_project_dir()

    def loader_name(self) -> str:
        """The loader's plugin name."""
        return self.loader or os.environ.get(LOADER_ENV) or "target-postgres"

    def partitions(self) -> list[Partition]:
        """The tap's partitions for the current config (see :func:`list_partitions`)."""
        return list_partitions(self.directory())

    def run(
        self,
        context: dg.OpExecutionContext | dg.AssetExecutionContext,
        pipes: dg.PipesSubprocessClient,
        partition: Partition | None,
    ) -> dg.PipesClientCompletedInvocation:
        """``meltano run`` for one partition (None: the unpartitioned run), through Pipes."""
        command = run_command(partition, self.loader_name())
        context.log.info(
            f"{' '.join(command[1:])}" + (f" with TAP_HRDATA_PARTITION={partition.to_json()}" if partition else "")
        )
        return pipes.run(
            context=context, command=command, env=run_env(partition, self.directory()), cwd=str(self.directory())
        )


def default_resources() -> dict[str, Any]:
    """The resources every job and asset here needs, from the environment."""
    return {
        "meltano": MeltanoProject(),
        "pipes_subprocess_client": dg.PipesSubprocessClient(),
    }


EXECUTOR = dg.multiprocess_executor.configured({"max_concurrent": MAX_CONCURRENT})


class PartitionChoice(dg.Config):
    """Which sources a fan-out job runs (default: the job's own)."""

    sources: list[str]


def _fan_out_op(name: str, *, incremental: bool) -> dg.OpDefinition:
    @dg.op(name=name, out=dg.DynamicOut(dict))
    def fan_out(context: dg.OpExecutionContext, config: PartitionChoice, meltano: MeltanoProject):
        unknown = sorted(set(config.sources) - set(SOURCES))
        if unknown:
            raise dg.Failure(f"unknown sources {unknown}: choose among {list(SOURCES)}")
        partitions = meltano.partitions()
        if incremental:
            chosen = incremental_partitions(partitions, config.sources)
        else:
            chosen = [p for p in partitions if p.source in config.sources]
        if not chosen:
            raise dg.Failure(f"the tap lists no partition of {config.sources}: is the source configured?")
        context.log.info(f"{len(chosen)} partitions: {', '.join(p.name for p in chosen)}")
        for partition in chosen:
            yield dg.DynamicOutput(
                {"name": partition.name, "partition": partition.spec}, mapping_key=partition.mapping_key
            )

    return fan_out


@dg.op(out=dg.Out(dict))
def run_partition(
    context: dg.OpExecutionContext,
    meltano: MeltanoProject,
    pipes_subprocess_client: dg.PipesSubprocessClient,
    partition: dict,
) -> dict:
    """``meltano run --state-id-suffix NAME tap-hrdata LOADER`` with ``TAP_HRDATA_PARTITION`` set."""
    chosen = Partition(partition["name"], partition["partition"])
    meltano.run(context, pipes_subprocess_client, chosen).get_results()
    return partition


@dg.op
def report(context: dg.OpExecutionContext, done: list[dict]) -> list[str]:
    """The partitions the run loaded."""
    names = sorted(item["name"] for item in done)
    context.log.info(f"{len(names)} partitions loaded: {', '.join(names)}")
    return names


def fan_out_job(name: str, sources: tuple[str, ...], *, incremental: bool, description: str) -> dg.JobDefinition:
    """A job that lists the tap's partitions of ``sources`` and runs each in its own process."""
    fan_out = _fan_out_op(f"{name}_partitions", incremental=incremental)

    @dg.job(
        name=name,
        description=description,
        executor_def=EXECUTOR,
        resource_defs=default_resources(),
        config={"ops": {fan_out.name: {"config": {"sources": list(sources)}}}},
        tags={"tap-hrdata/sources": ",".join(sources)},
    )
    def the_job() -> None:
        report(fan_out().map(run_partition).collect())

    return the_job


def backfill_job(sources: tuple[str, ...], name: str) -> dg.JobDefinition:
    """Every partition of ``sources`` (a full backfill), at most :data:`MAX_CONCURRENT` at once."""
    return fan_out_job(
        name,
        sources,
        incremental=False,
        description=f"Backfill of {', '.join(sources)}: every partition `tap-hrdata --list-partitions` lists, "
        f"each `meltano run --state-id-suffix <partition> tap-hrdata <loader>`, {MAX_CONCURRENT} at once.",
    )


# Module-level, so that `reconstructable(...)` and `dagster job execute -j` find each by its name.
backfill_talentsoft = backfill_job(("talentsoft",), "backfill_talentsoft")
backfill_hrflow = backfill_job(("hrflow",), "backfill_hrflow")
backfill_youserve = backfill_job(("youserve",), "backfill_youserve")
backfill_coresignal = backfill_job(("coresignal",), "backfill_coresignal")
backfill_all = backfill_job(SOURCES, "backfill_all")

daily_incremental = fan_out_job(
    "daily_incremental",
    SOURCES,
    incremental=True,
    description="The daily incremental run: each source's open-ended partitions (the last window, every "
    "HrFlow key), under the backfill's own state ids, so each starts from its bookmark.",
)

BACKFILL_JOBS = (backfill_talentsoft, backfill_hrflow, backfill_youserve, backfill_coresignal, backfill_all)


def job_named(name: str) -> dg.JobDefinition:
    """A job of this module by name.

    ``build_reconstructable_job("tap_hrdata_dagster.jobs", "job_named", (name,))`` runs it with the
    multiprocess executor from Python (``execute_job``).
    """
    return next(job for job in (*BACKFILL_JOBS, daily_incremental) if job.name == name)


daily_schedule = dg.ScheduleDefinition(
    name="daily_incremental_schedule",
    job=daily_incremental,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def partitioned_assets(partitions: list[Partition]) -> list[dg.AssetsDefinition]:
    """Per source with partitions, the asset ``hrdata_<source>``.

    One partition per line the tap listed, for the UI's backfills and ``dagster asset materialize --partition``.
    """
    assets = []
    for source in SOURCES:
        mine = {p.name: p for p in partitions if p.source == source}
        if mine:
            assets.append(_source_asset(source, mine))
    return assets


def _source_asset(source: str, partitions: dict[str, Partition]) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"hrdata_{source}",
        group_name="tap_hrdata",
        kinds={"meltano", "postgres"},
        partitions_def=dg.StaticPartitionsDefinition(list(partitions)),
        description=f"The {source} tables, loaded by `meltano run tap-hrdata <loader>` one partition at a time.",
    )
    def the_asset(
        context: dg.AssetExecutionContext,
        meltano: MeltanoProject,
        pipes_subprocess_client: dg.PipesSubprocessClient,
    ) -> dg.MaterializeResult:
        partition = partitions[context.partition_key]
        result = meltano.run(context, pipes_subprocess_client, partition).get_materialize_result()
        return dg.MaterializeResult(
            metadata={**(result.metadata or {}), "partition": dg.MetadataValue.json(partition.spec)}
        )

    return the_asset


JOURNAL = ("webhooks", "coresignal", "events.jsonl")


@dg.sensor(
    name="coresignal_ready_sensor",
    job=daily_incremental,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def coresignal_ready_sensor(context: dg.SensorEvaluationContext):
    """Runs Coresignal's open-ended partition when ``tap-hrdata-webhooks`` journals a ready notification.

    That is: when ``webhooks/coresignal/events.jsonl`` under ``files_storage_url`` has grown.
    """
    storage = files_storage()
    path = storage.key_path(*JOURNAL)
    size = int(storage.fs.size(path)) if storage.fs.exists(path) else 0
    seen = int(context.cursor or 0)
    if size <= seen:
        return dg.SkipReason(f"the Coresignal journal has not grown ({size} bytes)")
    context.update_cursor(str(size))
    return dg.RunRequest(
        run_key=f"coresignal-journal-{size}",
        run_config={"ops": {"daily_incremental_partitions": {"config": {"sources": ["coresignal"]}}}},
    )


def files_storage() -> FileStorage:
    """The tap's file storage as the environment configures it (``TAP_HRDATA_FILES_STORAGE_*``)."""
    url = os.environ.get("TAP_HRDATA_FILES_STORAGE_URL") or "output/files"
    if "://" not in url and not Path(url).is_absolute():
        url = str(default_project_dir() / url)
    names = ("endpoint_url", "region", "key", "secret", "token")
    options = {n: os.environ.get(f"TAP_HRDATA_FILES_STORAGE_OPTIONS_{n.upper()}") for n in names}
    return FileStorage(url, options=options)
