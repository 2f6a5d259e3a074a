"""`meltano run tap-hrdata target-postgres`, for every source, on the machine's real PostgreSQL.

The emulator serves all four vendors from this test process; Meltano runs the tap and
the loader as subprocesses, configured only through the documented TAP_HRDATA_* and
TARGET_POSTGRES_* environment variables. Each run's Meltano state lives in a state
backend of its own, and the tables in a schema of their own, dropped at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contracts.columns import TABLES, unfilled
from tests.emulator.__main__ import demo_vendors, hosts, tap_config
from tests.emulator.server import Emulator, Request, Response
from tests.sources.test_coresignal import POLL

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MELTANO = shutil.which("meltano", path=str(Path(sys.executable).parent)) or shutil.which("meltano")
PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def env_for(config: dict[str, Any]) -> dict[str, str]:
    """The tap config as the documented environment variables: a source block's settings
    are dotted settings (``TAP_HRDATA_TALENTSOFT_CLIENT_ID``), object values stay JSON."""

    def encode(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    env = {}
    for name, value in config.items():
        if isinstance(value, dict):
            env.update({f"TAP_HRDATA_{name.upper()}_{key.upper()}": encode(v) for key, v in value.items()})
        else:
            env[f"TAP_HRDATA_{name.upper()}"] = encode(value)
    return env


class Pipeline:
    """One Meltano project run against the emulator and one PostgreSQL schema."""

    def __init__(self, emulator: Emulator, vendors: tuple, tmp: Path, config: dict[str, Any] | None = None) -> None:
        """``config``: the tap's, without ``files_storage_url`` (default: every vendor of ``vendors``)."""
        self.vendors = vendors
        self.files = tmp / "files"
        self.schema = f"e2e_{uuid.uuid4().hex[:10]}"
        if config is None:
            config = tap_config(emulator, vendors)
            config["coresignal"]["poll_interval_seconds"] = 1
        config = {**config, "files_storage_url": str(self.files)}
        self.env = {
            **os.environ,
            **env_for(config),
            "TARGET_POSTGRES_HOST": "127.0.0.1",
            "TARGET_POSTGRES_PORT": "5432",
            "TARGET_POSTGRES_USER": "postgres",
            "TARGET_POSTGRES_PASSWORD": "trust-auth-ignores-it",
            "TARGET_POSTGRES_DATABASE": "test",
            "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": self.schema,
            "MELTANO_STATE_BACKEND_URI": f"file://{tmp / 'state'}",
            # its own system database: a killed run's job (held "running" for 5 minutes) blocks no other test
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_ENVIRONMENT": "dev",
        }

    def meltano(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        assert MELTANO, "meltano is not installed (pip install -e '.[dev]')"
        done = subprocess.run(
            [MELTANO, *args],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"meltano {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
        return done

    def run(self, extra_env: dict[str, str] | None = None, *options: str) -> subprocess.CompletedProcess[str]:
        return self.meltano("run", *options, "tap-hrdata", "target-postgres", extra_env=extra_env)

    def state(self) -> dict[str, Any]:
        listing = self.meltano("state", "list").stdout.split()
        state_id = next(s for s in listing if s.endswith("tap-hrdata-to-target-postgres"))
        return json.loads(self.meltano("state", "get", state_id).stdout.strip().splitlines()[-1])

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(PG_DSN) as db:
            return db.execute(sql).fetchall()

    def counts(self) -> dict[str, int]:
        tables = [
            row[0]
            for row in self.query(
                f"select table_name from information_schema.tables where table_schema = '{self.schema}'"
            )
        ]
        return {t: self.query(f'select count(*) from "{self.schema}"."{t}"')[0][0] for t in tables}

    def drop(self) -> None:
        with psycopg.connect(PG_DSN, autocommit=True) as db:
            db.execute(f'drop schema if exists "{self.schema}" cascade')


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    vendors = demo_vendors(polls_until_ready=2)
    emulator = Emulator(hosts(vendors)).start()
    project = Pipeline(emulator, vendors, tmp_path_factory.mktemp("e2e"))
    project.meltano("install")
    try:
        yield project
    finally:
        emulator.stop()
        project.drop()


def expected_counts(vendors: tuple) -> dict[str, int]:
    talentsoft, hrflow, youserve, coresignal = vendors
    candidates = list(talentsoft.candidate_docs())
    requested = list(coresignal.data_requests)
    return {
        "vacancies": talentsoft.vacancy_count,
        "candidates": talentsoft.candidate_count,
        "applications": sum(len(d["applications"]) for d in candidates),
        "attachments": sum(len(d["attachments"]) for d in candidates),
        "referentials": len(talentsoft.referential("countries")) + len(talentsoft.referential("languages")),
        "referential_translations": sum(
            len(translations)
            for category in ("countries", "languages")
            for translations in talentsoft.system.translations(category).values()
        ),
        "talentsoft_events": 0,  # no webhook receiver in these runs: an empty journal, an empty table
        "hrflow_profiles": len(hrflow.profiles()),
        "hrflow_jobs": len(hrflow.jobs()),
        "hrflow_sources": len(hrflow.source_keys()),
        "hrflow_boards": len(hrflow.board_keys()),
        # Meltano's default select (*.*) turns on this stream, off by default outside Meltano.
        "hrflow_profile_attachments": sum(len(hrflow.attachments.of(p["key"])) for p in hrflow.profiles()),
        "hrflow_events": 0,  # no webhook receiver in these runs either
        "hrflow_trackings": len(hrflow.activity.trackings()),  # every source is configured
        "hrflow_ratings": len(hrflow.activity.ratings()),
        "delivered_files": len([e for e in youserve.entries() if e["businessType"]["id"] in (7101, 8000, 101100)]),
        "bulk_jobs": len({job["id"] for r in requested for job in coresignal.jobs_for_request(r)}),
    }


def test_first_run_loads_everything(pipeline: Pipeline) -> None:
    pipeline.run()
    counts = pipeline.counts()
    assert counts == expected_counts(pipeline.vendors)

    # Primary keys are set on every table.
    keyed = {
        row[0]
        for row in pipeline.query(
            "select table_name from information_schema.table_constraints "
            f"where table_schema = '{pipeline.schema}' and constraint_type = 'PRIMARY KEY'"
        )
    }
    assert keyed == set(counts)

    # JSON columns hold the complete vendor objects.
    talentsoft, hrflow, _, _ = pipeline.vendors
    first = next(iter(talentsoft.vacancy_docs()))
    (raw,) = pipeline.query(
        f"select raw from \"{pipeline.schema}\".vacancies where reference = '{first['offerDetail']['reference']}'"
    )[0]
    assert raw == first
    profile = hrflow.profiles()[0]
    assert (
        pipeline.query(f"select raw from \"{pipeline.schema}\".hrflow_profiles where key = '{profile['key']}'")[0][0]
        == profile
    )

    # Every typed column the vendor's record fills is filled (each vendor in its current generation).
    for stream, table in TABLES.items():
        columns = [
            c
            for (c,) in pipeline.query(
                "select column_name from information_schema.columns "
                f"where table_schema = '{pipeline.schema}' and table_name = '{stream}'"
            )
        ]
        for row in pipeline.query(f'select * from "{pipeline.schema}"."{stream}"'):
            record = dict(zip(columns, row, strict=True))
            assert unfilled(table, record["raw"], record) == [], f"{stream}: {record['raw']}"

    # Stored files match their checksums.
    for table in ("attachments", "delivered_files", "hrflow_profile_attachments"):
        for uri, sha in pipeline.query(f'select storage_uri, sha256 from "{pipeline.schema}"."{table}"'):
            assert uri.startswith("file://")
            assert hashlib.sha256(Path(uri.removeprefix("file://")).read_bytes()).hexdigest() == sha


def test_rerun_unchanged_loads_nothing_and_keeps_bookmarks(pipeline: Pipeline) -> None:
    before = pipeline.counts()
    posts = pipeline.vendors[3].post_count
    downloads = len(pipeline.vendors[1].attachments.downloads())
    pipeline.run()
    assert pipeline.counts() == before
    assert len(pipeline.vendors[1].attachments.downloads()) == downloads  # no HrFlow attachment downloaded again
    bookmarks = pipeline.state()["singer_state"]["bookmarks"]

    def bookmark(stream: str) -> tuple[str, Any]:
        state = bookmarks[stream]
        state = state["partitions"][0] if "partitions" in state else state  # per filter / business types
        return state["replication_key"], state["replication_key_value"]

    talentsoft, _hrflow, _youserve, coresignal = pipeline.vendors
    # talentsoft.replication: modified (the default): the greatest modification date emitted.
    latest_vacancy = max(
        d["offerDetail"].get("modificationDate") or d["offerDetail"]["updateDate"] for d in talentsoft.vacancy_docs()
    )
    latest_candidate = max(
        d["candidateDetail"].get("modificationDate") or d["candidateDetail"]["updateDate"]
        for d in talentsoft.candidate_docs()
    )
    assert bookmark("vacancies") == ("update_date", latest_vacancy)
    assert bookmark("candidates") == ("update_date", latest_candidate)
    assert bookmark("hrflow_profiles")[0] == "updated_at"
    assert bookmark("delivered_files")[0] == "upload_date"
    assert bookmark("bulk_jobs")[0] == "last_updated"
    assert coresignal.post_count == posts + 1  # one new (incremental) data request, paid once


def test_new_records_arrive_exactly(pipeline: Pipeline) -> None:
    talentsoft, hrflow, youserve, coresignal = pipeline.vendors
    before = pipeline.counts()
    new_vacancies = talentsoft.add_vacancies(3)
    new_profile = hrflow.add_profile("src-a")
    new_file = youserve.add_file("new_payroll.xml", 7101, 1234)
    new_jobs = coresignal.add_jobs(4)
    pipeline.run()
    after = pipeline.counts()
    assert after["vacancies"] == before["vacancies"] + 3
    assert after["hrflow_profiles"] == before["hrflow_profiles"] + 1
    assert after["delivered_files"] == before["delivered_files"] + 1
    new_attachments = len(hrflow.attachments.of(new_profile["key"]))
    assert after["hrflow_profile_attachments"] == before["hrflow_profile_attachments"] + new_attachments
    assert {r[0] for r in pipeline.query(f'select reference from "{pipeline.schema}".vacancies')} >= set(new_vacancies)
    assert (
        pipeline.query(
            f"select count(*) from \"{pipeline.schema}\".hrflow_profiles where key = '{new_profile['key']}'"
        )[0][0]
        == 1
    )
    assert (
        pipeline.query(
            f"select count(*) from \"{pipeline.schema}\".delivered_files where file_id = '{new_file['fileId']}'"
        )[0][0]
        == 1
    )
    matching = [j for j in new_jobs if "engineer" in j["title"].lower()]
    assert after["bulk_jobs"] == before["bulk_jobs"] + len(matching)
    changed = {"vacancies", "hrflow_profiles", "hrflow_profile_attachments", "delivered_files", "bulk_jobs"}
    for table in set(after) - changed:
        assert after[table] == before[table], table


def test_edits_to_old_records_reach_postgres_on_the_next_run(pipeline: Pipeline) -> None:
    """talentsoft.replication: modified (the default): an old vacancy and an old candidate edited in
    Talentsoft (same export position, new modification date) are updated in PostgreSQL by the next run."""
    talentsoft = pipeline.vendors[0]
    before = pipeline.counts()
    [reference] = talentsoft.edit_vacancies(1)
    [candidate] = talentsoft.edit_candidates(1)
    pipeline.run()
    assert pipeline.counts() == before  # updated in place (upserts), nothing added
    epoch = "extract(epoch from update_date)::bigint"
    [(vacancy_date,)] = pipeline.query(
        f"select {epoch} from \"{pipeline.schema}\".vacancies where reference = '{reference}'"
    )
    [(candidate_date,)] = pipeline.query(
        f"select {epoch} from \"{pipeline.schema}\".candidates where id = '{candidate}'"
    )
    assert vacancy_date == talentsoft.update_epoch("vacancies", 1)
    assert candidate_date == talentsoft.update_epoch("candidates", 1)


def test_a_run_killed_right_after_the_paid_post_is_finished_by_the_next_without_paying_again(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """The whole pipeline (Meltano, tap and target) is killed while the paid request is collected,
    and its state dropped; the next run resumes the journalled request and loads every record."""
    vendors = demo_vendors(polls_until_ready=1)
    coresignal = vendors[3]
    first_poll, release = threading.Event(), threading.Event()
    answer = coresignal.handle

    def handle(request: Request) -> Response:
        if request.method == "GET" and re.search(POLL, request.path) and not release.is_set():
            first_poll.set()  # the request is paid for; hold the run here until it is killed
            release.wait(60)
        return answer(request)

    coresignal.handle = handle  # type: ignore[method-assign]
    emulator = Emulator(hosts(vendors)).start()
    project = Pipeline(emulator, vendors, tmp_path)
    try:
        assert MELTANO
        killed = subprocess.Popen(
            [MELTANO, "run", "tap-hrdata", "target-postgres"],
            cwd=ROOT,
            env=project.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: Meltano, the tap and the target
        )
        try:
            assert first_poll.wait(300), "the run never reached its first poll"
            assert coresignal.post_count == 1
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait()
        release.set()
        for state_id in project.meltano("state", "list").stdout.split():  # drop whatever state was kept
            if state_id.endswith("tap-hrdata-to-target-postgres"):
                project.meltano("state", "clear", "--force", state_id)
        [entry] = (project.files / "coresignal" / "requests").glob("*.json")
        assert json.loads(entry.read_text())["id"] in coresignal.data_requests

        project.run(None, "--force")  # Meltano holds a killed run's job as running for 5 minutes
        assert coresignal.post_count == 1  # resumed from the journal: no second payment, no 409
        assert project.counts() == expected_counts(vendors)
    finally:
        release.set()
        emulator.stop()
        project.drop()


def test_stream_maps_mask_candidate_emails(pipeline: Pipeline) -> None:
    maps = {"candidates": {"email": "md5(email) if email else None"}}
    pipeline.meltano(
        "run",
        "--full-refresh",
        "tap-hrdata",
        "target-postgres",
        extra_env={"TAP_HRDATA_STREAM_MAPS": json.dumps(maps)},
    )
    talentsoft = pipeline.vendors[0]
    emails = {
        d["candidateDetail"]["id"]: d["candidateDetail"]["personalInformation"]["email"]
        for d in talentsoft.candidate_docs()
    }
    rows = pipeline.query(f'select id, email from "{pipeline.schema}".candidates')
    assert rows
    for candidate_id, email in rows:
        original = emails[candidate_id]
        assert email == (hashlib.md5(original.encode()).hexdigest() if original else None)  # noqa: S324
