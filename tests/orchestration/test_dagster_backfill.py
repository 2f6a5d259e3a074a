"""A Dagster backfill, partition by partition, equals one unpartitioned run.

Against the vendor emulator (HrFlow, YouServe, Coresignal; YouServe files spread over the
backfill's windows), with file bytes in moto's S3 server and tables in the machine's
PostgreSQL: one ``meltano run tap-hrdata target-postgres`` loads schema A and bucket A; the
code location's ``backfill_all`` job, executed with Dagster's multiprocess executor (4 at
once), runs every partition ``tap-hrdata --list-partitions`` prints, each as ``meltano run
--state-id-suffix <name>``, into schema B and bucket B. Both emulators serve the same data.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_meltano_postgres import Pipeline, env_for
from tests.emulator.__main__ import demo_vendors, hosts, tap_config
from tests.emulator.server import Emulator
from tests.s3server import S3Server, s3_server  # noqa: F401  # the fixture

dg = pytest.importorskip("dagster")
psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
WINDOWS = 5  # about this many date windows per date-sliced source, whatever today's date
FILE_TABLES = ("delivered_files", "hrflow_profile_attachments")


def backfill_config(emulator: Emulator, vendors: tuple) -> dict[str, Any]:
    """HrFlow (4 source keys, 2 boards), YouServe and Coresignal, from START in about WINDOWS windows."""
    config = tap_config(emulator, vendors)
    del config["talentsoft"]
    config["start_date"] = START.strftime("%Y-%m-%dT%H:%M:%SZ")
    days = (datetime.now(timezone.utc) - START).days
    config["partition_days"] = max(1, math.ceil(days / WINDOWS))
    return config


def spread_youserve_files(vendors: tuple) -> None:
    """A few more YouServe files, one in each window (the demo's files all fall in one)."""
    youserve = vendors[2]
    span = datetime.now(timezone.utc) - START
    for index, fraction in enumerate((0.05, 0.25, 0.45, 0.65, 0.85)):
        uploaded = START + span * fraction + timedelta(hours=index)
        youserve.add_file(f"spread_{index}.xml", (7101, 8000, 101100)[index % 3], 2000 + index, uploaded)


class Run:
    """One pipeline: its emulator, Meltano project env, schema and bucket."""

    def __init__(self, s3: S3Server, tmp: Path) -> None:
        tmp.mkdir()
        self.vendors = demo_vendors()
        spread_youserve_files(self.vendors)
        self.emulator = Emulator(hosts(self.vendors)).start()
        self.bucket = s3.new_bucket()
        self.s3 = s3
        self.pipeline = Pipeline(self.emulator, self.vendors, tmp, backfill_config(self.emulator, self.vendors))
        self.pipeline.env.update(
            env_for({"files_storage_url": f"s3://{self.bucket}/files", "files_storage_options": s3.options()})
        )

    def close(self) -> None:
        self.emulator.stop()
        self.pipeline.drop()

    def keys(self) -> dict[str, list[tuple]]:
        """Every table's primary keys, sorted."""
        schema = self.pipeline.schema
        found = {}
        for table in self.pipeline.counts():
            columns = [
                c
                for (c,) in self.pipeline.query(
                    "select k.column_name from information_schema.table_constraints t "
                    "join information_schema.key_column_usage k using (constraint_schema, constraint_name) "
                    f"where t.table_schema = '{schema}' and t.table_name = '{table}' "
                    "and t.constraint_type = 'PRIMARY KEY' order by k.ordinal_position"
                )
            ]
            assert columns, f"{table} has no primary key"
            listed = ", ".join(f'"{c}"' for c in columns)
            found[table] = sorted(self.pipeline.query(f'select {listed} from "{schema}"."{table}"'))
        return found

    def stored_files(self) -> set[tuple[str, str]]:
        """(key under the bucket, sha256) of every file a record names; each object's bytes checked."""
        objects = self.s3.objects(self.bucket)
        found = set()
        for table in set(FILE_TABLES) & set(self.pipeline.counts()):
            for uri, sha in self.pipeline.query(f'select storage_uri, sha256 from "{self.pipeline.schema}"."{table}"'):
                key = uri.removeprefix(f"s3://{self.bucket}/")
                assert hashlib.sha256(objects[key]).hexdigest() == sha, uri
                found.add((key, sha))
        return found


@pytest.fixture
def runs(s3_server: S3Server, tmp_path: Path) -> Iterator[tuple[Run, Run]]:  # noqa: F811
    single, backfill = Run(s3_server, tmp_path / "single"), Run(s3_server, tmp_path / "backfill")
    try:
        yield single, backfill
    finally:
        single.close()
        backfill.close()


def test_a_dagster_backfill_of_every_partition_equals_one_unpartitioned_run(
    runs: tuple[Run, Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    single, backfill = runs
    single.pipeline.meltano("install", "extractor", "tap-hrdata")  # its pip_url carries the s3 extra
    single.pipeline.run()

    # The code location reads the same environment as `meltano run` does, plus where the project is.
    for name, value in backfill.pipeline.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TAP_HRDATA_MELTANO_PROJECT", str(ROOT))
    monkeypatch.setenv("TAP_HRDATA_DAGSTER_LOADER", "target-postgres")
    monkeypatch.delenv("HRDATA_DAGSTER_PARTITIONS", raising=False)
    from tap_hrdata_dagster.project import list_partitions

    partitions = list_partitions()
    by_source = {s: [p for p in partitions if p.source == s] for s in ("hrflow", "youserve", "coresignal")}
    assert len(by_source["coresignal"]) >= 4
    assert len(by_source["youserve"]) >= 4
    assert len([p for p in by_source["hrflow"] if "source_keys" in p.spec]) >= 4
    youserve_with_files = {
        p.name
        for p in by_source["youserve"]
        for e in backfill.vendors[2].entries()
        if p.spec["start"] <= e["uploadDate"] and ("end" not in p.spec or e["uploadDate"] < p.spec["end"])
    }
    assert len(youserve_with_files) >= 4  # the windows are not empty: they split the data

    coresignal = backfill.vendors[3]
    credits_before = coresignal.credits
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        job = dg.build_reconstructable_job("tap_hrdata_dagster.jobs", "job_named", ("backfill_all",))
        with dg.execute_job(job, instance=instance) as result:
            assert result.success
            ran = [e for e in result.all_events if e.is_step_success and e.step_key.startswith("run_partition")]
            assert len(ran) == len(partitions)
            assert result.output_for_node("report") == sorted(p.name for p in partitions)

    # The same tables, rows and files as the single run.
    assert backfill.pipeline.counts() == single.pipeline.counts()
    assert backfill.keys() == single.keys()
    assert backfill.stored_files() == single.stored_files()
    assert backfill.stored_files()  # files of several partitions, in the S3 server

    # No Coresignal record bought twice: the backfill's windows cost what the single run cost,
    # in one paid request per window that had jobs, none asked twice.
    spent = credits_before - coresignal.credits
    assert spent == 1_000_000 - single.vendors[3].credits
    bodies = [json.dumps(body, sort_keys=True) for _, body in coresignal.posts]
    assert len(bodies) == len(set(bodies)) <= len(by_source["coresignal"])
    assert single.vendors[3].post_count == 1
