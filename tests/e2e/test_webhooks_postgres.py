"""Webhooks end to end: subscribe, events through a restarted receiver, `meltano run` into PostgreSQL.

The cinematic of the vendor's documentation, with the real pieces: ``tap-hrdata-webhooks``
subscribes the receiver (a subprocess, as ``serve`` runs in production) to ``vacancy_update``
and ``applicant_update``; the emulator (Talentsoft) fires events at it; the receiver is killed
(SIGKILL) between two events and started again; ``meltano run tap-hrdata target-postgres``
loads the events into ``talentsoft_events`` and refreshes the vacancy and candidate they name;
the following run reports to Talentsoft the records the committed state covers. HrFlow's
signed events go through the same receiver (and its restart) into ``hrflow_events``; a
tampered one is refused and never reaches the table.

``talentsoft.replication`` is ``offset`` here on purpose: paging by offset never sees an edit
to an old record, so the refreshed rows can only have come from the events (in the default
``modified`` mode the date filter would bring them too, and this test could not tell).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_meltano_postgres import ROOT, Pipeline
from tests.emulator.hrflow import HrflowEmulator
from tests.emulator.hrflow_webhooks import EVENTS as HRFLOW_EVENTS
from tests.emulator.hrflow_webhooks import HrflowWebhooks, tampered_payload
from tests.emulator.server import Emulator
from tests.emulator.talentsoft import TalentsoftEmulator
from tests.webhooks.conftest import SECRET
from tests.webhooks.test_restart import start

pytest.importorskip("psycopg")

pytestmark = pytest.mark.e2e

HRFLOW_SECRET = "hrflow-webhook-signing-key-0123456789"  # a test value


@pytest.fixture
def vendors() -> Iterator[tuple[Emulator, TalentsoftEmulator, HrflowEmulator]]:
    talentsoft = TalentsoftEmulator(vacancies=12, candidates=6, attachments_per_candidate=(1, 2), shape="current")
    hrflow = HrflowEmulator(shape="current")
    emulator = Emulator([talentsoft, hrflow]).start()
    try:
        yield emulator, talentsoft, hrflow
    finally:
        emulator.stop()


def webhooks(config: Path, *args: str) -> str:
    """``tap-hrdata-webhooks --config CONFIG ARGS...``; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "tap_hrdata.webhooks", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_events_and_their_refreshes_reach_postgres_exactly_once_and_reports_follow_commits(
    vendors: tuple[Emulator, TalentsoftEmulator, HrflowEmulator], tmp_path: Path
) -> None:
    emulator, vendor, hrflow = vendors
    settings = {
        **vendor.tap_settings(emulator.url(vendor.prefix)),
        "referential_categories": [],
        "replication": "offset",
        "report_indexing": True,
    }
    hrflow_settings = {**hrflow.tap_settings(emulator.url(hrflow.prefix)), "webhook_secret": HRFLOW_SECRET}
    pipeline = Pipeline(
        emulator, (vendor, hrflow), tmp_path, config={"talentsoft": settings, "hrflow": hrflow_settings}
    )
    receiver_config = tmp_path / "webhooks.json"
    receiver_config.write_text(
        json.dumps(
            {
                "files_storage_url": str(pipeline.files),
                "talentsoft": {**settings, "webhook_secret": SECRET},
                "hrflow": hrflow_settings,
            }
        )
    )
    schema = pipeline.schema
    receiver, url = start(receiver_config)
    try:
        pipeline.meltano("install")
        for event in ("vacancy_update", "applicant_update"):
            hook_id = webhooks(
                receiver_config,
                "talentsoft",
                "subscribe",
                "--event",
                event,
                "--callback-url",
                f"{url}/talentsoft/{{secret}}",
                "--ping-url",
                f"{url}/talentsoft/{{secret}}/ping",
            ).strip()
            assert vendor.system.ping(hook_id) == 200
        assert len(vendor.system.hooks) == 2

        pipeline.run()  # the full exports once; nothing was committed before it: nothing reported
        assert pipeline.counts()["vacancies"] == 12
        assert pipeline.counts()["talentsoft_events"] == 0
        assert vendor.reports == []
        first_dates = dict(pipeline.query(f'select reference, update_date::text from "{schema}".vacancies'))

        [reference] = vendor.edit_vacancies(2)
        [candidate] = vendor.edit_candidates(3)
        assert vendor.system.fire("vacancy_update", {"reference": reference}, event_id="ev-1") == [200]
        signed = HrflowWebhooks(url=f"{url}/hrflow", secret=HRFLOW_SECRET)
        assert [signed.send(event) for event in HRFLOW_EVENTS[:2]] == [200, 200]
        receiver.send_signal(signal.SIGKILL)  # no shutdown: only what the journal synced survives
        receiver.wait(timeout=30)
        receiver, restarted = start(receiver_config, port=int(url.rsplit(":", 1)[1]))  # where the hooks point
        assert restarted == url
        assert vendor.system.fire("applicant_update", {"applicantId": candidate}, event_id="ev-2") == [200]
        assert vendor.system.fire("vacancy_update", {"reference": reference}, event_id="ev-1") == [200]  # redelivered
        signed = HrflowWebhooks(url=f"{url}/hrflow", secret=HRFLOW_SECRET)
        assert [signed.send(event) for event in HRFLOW_EVENTS[1:]] == [200] * (len(HRFLOW_EVENTS) - 1)  # one again
        forged = {"type": "profile.storing.update", "profile": {"key": "forged"}}
        assert signed.send(forged, header=tampered_payload(signed.header(HRFLOW_EVENTS[0]), forged)) == 401

        pipeline.run()
        events = pipeline.query(f'select event_key, event, object_id from "{schema}".talentsoft_events order by 1')
        assert events == [("ev-1", "vacancy_update", reference), ("ev-2", "applicant_update", candidate)]
        epoch = "extract(epoch from update_date)::bigint"
        [(vacancy_date,)] = pipeline.query(
            f"select {epoch} from \"{schema}\".vacancies where reference = '{reference}'"
        )
        [(candidate_date,)] = pipeline.query(f"select {epoch} from \"{schema}\".candidates where id = '{candidate}'")
        assert vacancy_date == vendor.update_epoch("vacancies", 2)  # refreshed by id: offset paging never sees it
        assert candidate_date == vendor.update_epoch("candidates", 3)
        assert pipeline.counts()["vacancies"] == 12
        hrflow_rows = pipeline.query(f'select event, raw::text from "{schema}".hrflow_events')
        assert sorted(event for event, _ in hrflow_rows) == sorted(e["type"] for e in HRFLOW_EVENTS)  # each once
        assert not any("forged" in raw for _, raw in hrflow_rows)

        # The second run started from the state the first committed: it reported what that covers,
        # every record once, in the version the first run loaded, not the refreshed one.
        reported = vendor.reported_items("vacancies")
        assert sorted(item for item, _ in reported) == sorted(first_dates)
        assert {item for item, _ in vendor.reported_items("candidates")} == {
            row[0] for row in pipeline.query(f'select id from "{schema}".candidates')
        }
        assert len(reported) == 12

        pipeline.run()  # the refreshed versions are committed now: reported once, and nothing else again
        later = vendor.reported_items("vacancies")[len(reported) :]
        assert [item for item, _ in later] == [reference]
        assert later[0][1] != dict(reported)[reference]
        assert [item for item, _ in vendor.reported_items("candidates")].count(candidate) == 2
        assert pipeline.counts()["talentsoft_events"] == 2  # each acknowledged event once, across three runs
        assert pipeline.counts()["hrflow_events"] == len(HRFLOW_EVENTS)
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=30)
        pipeline.drop()
