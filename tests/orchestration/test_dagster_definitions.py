"""The Dagster code location, without the tap: a fake partition list and a fake ``meltano``.

The fake ``meltano`` prints the list for ``invoke tap-hrdata --list-partitions`` and, for
``run``, records its arguments and ``TAP_HRDATA_PARTITION``: what the jobs would ask Meltano.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

dg = pytest.importorskip("dagster")

from tap_hrdata_dagster import project  # noqa: E402

LISTED = [
    {"name": "coresignal-20240101", "partition": {"source": "coresignal", "start": "2024-01-01T00:00:00Z",
                                                  "end": "2024-01-31T00:00:00Z", "full_tables": True}},
    {"name": "coresignal-20240131", "partition": {"source": "coresignal", "start": "2024-01-31T00:00:00Z"}},
    {"name": "youserve-20240101", "partition": {"source": "youserve", "start": "2024-01-01T00:00:00Z",
                                                "end": "2024-01-31T00:00:00Z", "full_tables": True}},
    {"name": "youserve-20240131", "partition": {"source": "youserve", "start": "2024-01-31T00:00:00Z",
                                                "end": "2024-03-01T00:00:00Z"}},
    {"name": "youserve-20240301", "partition": {"source": "youserve", "start": "2024-03-01T00:00:00Z"}},
    {"name": "hrflow-source-src-a", "partition": {"source": "hrflow", "source_keys": ["src-a"], "full_tables": True}},
    {"name": "hrflow-source-src-b", "partition": {"source": "hrflow", "source_keys": ["src-b"]}},
    {"name": "hrflow-board-board_1", "partition": {"source": "hrflow", "board_keys": ["board_1"]}},
]  # fmt: skip
LISTING = "".join(json.dumps(line) + "\n" for line in LISTED)


@pytest.fixture
def fake_meltano(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``meltano`` that lists ``LISTED`` and appends each run it is asked for to ``runs.jsonl``."""
    runs = tmp_path / "runs.jsonl"
    script = tmp_path / "meltano"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, os, sys
            if sys.argv[1:] == ["invoke", "tap-hrdata", "--list-partitions"]:
                sys.stdout.write({LISTING!r})
                sys.exit(0)
            with open({str(runs)!r}, "a") as out:
                out.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(),
                                      "partition": os.environ.get("TAP_HRDATA_PARTITION")}}) + "\\n")
            """
        )
    )
    script.chmod(0o755)
    monkeypatch.setenv(project.MELTANO_ENV, str(script))
    monkeypatch.setenv(project.PROJECT_ENV, str(tmp_path))
    monkeypatch.delenv(project.PARTITIONS_ENV, raising=False)
    return runs


def recorded(runs: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in runs.read_text().splitlines()] if runs.exists() else []


def test_the_code_location_loads_one_partitioned_asset_per_listed_source(fake_meltano: Path) -> None:
    from tap_hrdata_dagster import definitions

    defs = importlib.reload(definitions).defs
    dg.Definitions.validate_loadable(defs)
    keys = {
        name: defs.resolve_assets_def(f"hrdata_{name}").partitions_def.get_partition_keys()  # type: ignore[union-attr]
        for name in ("coresignal", "youserve", "hrflow")
    }
    assert keys == {
        "coresignal": ["coresignal-20240101", "coresignal-20240131"],
        "youserve": ["youserve-20240101", "youserve-20240131", "youserve-20240301"],
        "hrflow": ["hrflow-source-src-a", "hrflow-source-src-b", "hrflow-board-board_1"],
    }
    with pytest.raises(Exception, match="hrdata_talentsoft"):  # no Talentsoft partition listed: no asset
        defs.resolve_assets_def("hrdata_talentsoft")
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert {"backfill_all", "backfill_youserve", "backfill_coresignal", "backfill_hrflow", "daily_incremental"} <= jobs
    assert defs.resolve_schedule_def("daily_incremental_schedule").cron_schedule == "0 3 * * *"
    assert defs.resolve_sensor_def("coresignal_ready_sensor")
    # The list is kept for the processes Dagster starts from here: they do not ask the tap again.
    assert project.list_partitions() == project.parse_partitions(LISTING)


def test_a_backfill_runs_each_partition_of_its_source_under_its_own_state_id(fake_meltano: Path) -> None:
    from tap_hrdata_dagster.jobs import backfill_youserve

    result = backfill_youserve.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    runs = recorded(fake_meltano)
    youserve = {line["name"]: line["partition"] for line in LISTED if line["partition"]["source"] == "youserve"}
    assert sorted(run["argv"][2] for run in runs) == sorted(youserve)
    for run in runs:
        name = run["argv"][2]
        assert run["argv"] == ["run", "--state-id-suffix", name, "tap-hrdata", "target-postgres"]
        assert json.loads(run["partition"]) == youserve[name]
        assert run["cwd"] == str(fake_meltano.parent)


def test_the_daily_job_continues_each_open_ended_partition_with_the_full_tables_once(fake_meltano: Path) -> None:
    from tap_hrdata_dagster.jobs import daily_incremental

    assert daily_incremental.execute_in_process(instance=dg.DagsterInstance.ephemeral()).success
    runs = {run["argv"][2]: json.loads(run["partition"]) for run in recorded(fake_meltano)}
    assert set(runs) == {
        "coresignal-20240131",
        "youserve-20240301",
        "hrflow-source-src-a",
        "hrflow-source-src-b",
        "hrflow-board-board_1",
    }
    assert sorted(name for name, spec in runs.items() if spec["full_tables"]) == [
        "coresignal-20240131",
        "hrflow-source-src-a",
        "youserve-20240301",
    ]


def test_a_partitioned_asset_materializes_one_partition(fake_meltano: Path) -> None:
    from tap_hrdata_dagster import definitions

    defs = importlib.reload(definitions).defs
    result = dg.materialize(
        [defs.resolve_assets_def("hrdata_coresignal")],
        partition_key="coresignal-20240101",
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    [run] = recorded(fake_meltano)
    assert run["argv"] == ["run", "--state-id-suffix", "coresignal-20240101", "tap-hrdata", "target-postgres"]
    assert json.loads(run["partition"]) == LISTED[0]["partition"]


def test_the_sensor_fires_when_the_coresignal_journal_grows(
    fake_meltano: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tap_hrdata_dagster.jobs import coresignal_ready_sensor

    monkeypatch.setenv("TAP_HRDATA_FILES_STORAGE_URL", str(tmp_path / "files"))
    context = dg.build_sensor_context(cursor=None)
    assert isinstance(coresignal_ready_sensor(context), dg.SkipReason)
    journal = tmp_path / "files" / "webhooks" / "coresignal" / "events.jsonl"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"request_id": 1}\n')
    request = coresignal_ready_sensor(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config["ops"]["daily_incremental_partitions"]["config"]["sources"] == ["coresignal"]
    assert isinstance(coresignal_ready_sensor(dg.build_sensor_context(cursor=context.cursor)), dg.SkipReason)


def test_a_bad_listing_is_refused_with_its_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        project.parse_partitions(LISTING.splitlines()[0] + "\nnot json\n")
    with pytest.raises(ValueError, match="repeats"):
        project.parse_partitions(LISTING + LISTING)
